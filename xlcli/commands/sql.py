"""``xlcli sql``: run SQL against the store (sqlite-vec loaded), read-only unless --write.

Read-only is enforced by SQLite itself (:mod:`xlcli.store.readonly`'s authorizer plus
``PRAGMA query_only``), not by inspecting the SQL text.
"""

from __future__ import annotations

import csv
import sys

import typer
from rich.table import Table
from sqlalchemy.exc import DBAPIError, ResourceClosedError

from xlcli.commands.common import open_existing, out, print_json
from xlcli.errors import XlcliError
from xlcli.store.driver import sqlite_module
from xlcli.store.readonly import read_only_authorizer


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
            if not write:
                conn.connection.driver_connection.set_authorizer(read_only_authorizer())
            try:
                result = conn.exec_driver_sql(query)
            except DBAPIError as exc:
                message = str(exc.orig)
                if "not authorized" in message or "readonly" in message or "read-only" in message:
                    raise XlcliError("the statement is not a read (without --write, sql allows SELECT, WITH and "
                                     "pragmas that only report; not ATTACH, DETACH, load_extension or any write)") from None
                raise XlcliError(f"SQL error: {' '.join(message.split())}") from None
            except sqlite_module().Warning as exc:  # "You can only execute one statement at a time."
                raise XlcliError(f"SQL error: {exc} (give one statement)") from None
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
