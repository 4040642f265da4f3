"""``xlcli inspect``: one query's text, translations, variants, rewrites, relevant passages and every system's ranks."""

from __future__ import annotations

import typer

from xlcli import languages
from xlcli.commands.common import open_existing, out, print_json


def inspect(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The query's external id (e.g. conv-26/q3 for LoCoMo, a qid for ir_datasets)."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the only one)."),
    lang: str | None = typer.Option(None, "--lang", help="Which language version of the query (default: the original)."),
    systems: str | None = typer.Option(None, "--systems", help="Comma-separated systems (index names); default: every system evaluated on this query."),
    k: int = typer.Option(10, "-k", "--top", help="How many top passages to show per ranking."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
) -> None:
    """Error analysis of one query: where each system ranked its relevant passages, clean and per misspelled variant."""
    from xlcli.report.inspect import inspect_query
    from xlcli.report.inspect_view import render

    lang = languages.check(lang, where="--lang") if lang is not None else None
    names = [s.strip() for s in systems.split(",") if s.strip()] if systems is not None else None
    with open_existing(ctx) as store, store.read() as conn:
        result = inspect_query(conn, query, dataset=dataset, lang=lang, systems=names, k=k)
    if as_json:
        print_json(result)
    else:
        out.print(render(result))
