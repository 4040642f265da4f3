"""``xlcli sql``: run SQL against the store (sqlite-vec loaded), read-only unless --write."""

from __future__ import annotations

import csv
import sys

import typer
from rich.table import Table
from sqlalchemy.exc import DBAPIError, ResourceClosedError

from xlcli.commands.common import open_existing, out, print_json
from xlcli.errors import XlcliError


def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="SQL to run, e.g. \"SELECT lang, count(*) FROM queries GROUP BY lang\"."),
    as_json: bool = typer.Option(False, "--json", help="Print rows as a JSON list of objects."),
    as_csv: bool = typer.Option(False, "--csv", help="Print rows as CSV."),
    write: bool = typer.Option(False, "--write", help="Allow statements that change the store."),
) -> None:
    """Query the store with SQL and print the rows (a rich table, JSON or CSV)."""
    if as_json and as_csv:
        raise XlcliError("choose one of --json and --csv")
    store = open_existing(ctx, write=write)
    try:
        with (store.write() if write else store.read()) as conn:
            try:
                result = conn.exec_driver_sql(query)
            except DBAPIError as exc:
                message = str(exc.orig)
                if "readonly" in message or "read-only" in message or "query_only" in message:
                    raise XlcliError("the statement would change the store: add --write to allow it") from None
                raise XlcliError(f"SQL error: {message}") from None
            try:
                columns = list(result.keys())
                rows = [tuple(row) for row in result]
            except ResourceClosedError:
                columns, rows = [], []
                out.print(f"ok ({result.rowcount} rows affected)" if result.rowcount >= 0 else "ok")
                return
    finally:
        store.dispose()
    if as_json:
        print_json([dict(zip(columns, row)) for row in rows])
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("NULL" if v is None else _cell(v) for v in row))
        out.print(table)


def _cell(value) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)
