"""``xlcli search``: ranked passages for one query, from a dense (vec0 KNN) or BM25 index."""

from __future__ import annotations

import typer
from rich.table import Table

from xlcli.commands.common import open_existing, out, print_json
from xlcli.commands.ranges import DEPTH


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The query text."),
    index: str = typer.Option(..., "--index", help="Index name."),
    scope: str | None = typer.Option(None, "--scope", help="Search only this scope (LoCoMo: a conversation, e.g. conv-26)."),
    k: int = typer.Option(10, "-k", "--k", callback=DEPTH, help="Number of passages."),
    device: str = typer.Option("auto", "--device", help="Device for encoding the query."),
    as_json: bool = typer.Option(False, "--json", help="Print the ranking as JSON."),
) -> None:
    """Print the top-k passages for QUERY with their scores (cosine for dense, BM25 for lexical)."""
    from xlcli.search import run_query

    with open_existing(ctx) as store:
        hits = run_query(store, index, query, k=k, scope=scope, device=device)
    if as_json:
        print_json(hits)
        return
    table = Table("rank", "score", "passage", "text", title=f"{index}: {query}", title_justify="left")
    for hit in hits:
        table.add_row(str(hit["rank"]), f"{hit['score']:.4f}", hit["passage"], hit["text"])
    out.print(table)
    if not hits:
        out.print("no passage matched.")
