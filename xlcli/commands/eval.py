"""``xlcli eval``: rank query sets (clean and misspelled, per language) with indexes and measure them."""

from __future__ import annotations

from pathlib import Path

import typer

from xlcli.commands.common import open_existing, print_runs
from xlcli.commands.ranges import BATCH, DEPTH
from xlcli.metrics import DEFAULT_MEASURES


def eval_(
    ctx: typer.Context,
    index: list[str] = typer.Option(..., "--index", "--systems", help="Systems: INDEX or INDEX@REWRITE (an index on a rewrite run's queries); repeat or comma-separate to evaluate several."),
    rewrite: list[str] | None = typer.Option(None, "--rewrite", help="Rewrite run name(s): evaluate every --index on the queries each rewrote (INDEX@NAME), instead of the queries as they are."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the index's)."),
    langs: str | None = typer.Option(None, "--langs", help="Query languages, e.g. en,es,de,fr,ru (default: all in the split)."),
    split: str = typer.Option("test", "--split", help="Query split."),
    variants: str = typer.Option("all", "--variants", help="Variant sets to evaluate besides clean queries: all, none, or names (comma-separated)."),
    measures: str = typer.Option(DEFAULT_MEASURES, "--measures", help="ir_measures names, space- or comma-separated."),
    depth: int = typer.Option(100, "--depth", callback=DEPTH, help="Ranking depth stored and measured."),
    translator: str = typer.Option("", "--translator", help="Use machine translations by this MT model (default: original/human)."),
    trec_out: Path | None = typer.Option(None, "--trec-out", help="Directory for TREC run files (and matching qrels)."),
    device: str = typer.Option("auto", "--device", help="Device for encoding queries."),
    batch_size: int = typer.Option(64, "--batch-size", callback=BATCH, help="Queries per encoding batch."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per (index, language, condition)."),
) -> None:
    """Evaluate indexes on clean queries per language and on every stored variant set (misspellings).

    With --rewrite (or INDEX@REWRITE) an index ranks the rewritten texts instead (translate-test,
    spelling correction): the languages and variant sets that rewrite run covers; plain runs of the
    same index are a plain `xlcli eval`, already stored or not.

    Retrieval is within each query's scope when the dataset has scopes. For a variant set, a query's
    value is the mean over its variants. Runs are stored with per-query rankings and values; runs
    already stored with the same parameters are reused.
    """
    from xlcli.eval import systems
    from xlcli.eval.runner import evaluate

    specs = systems.parse_list(index)
    if rewrite:
        specs = systems.with_rewrites(specs, systems.parse_names(rewrite, where="--rewrite"))
    with open_existing(ctx, write=True) as store:
        results = evaluate(
            store, specs, dataset=dataset, langs=langs, split=split, variants=variants, measures=measures, depth=depth,
            translator=translator, trec_out=trec_out, device=device, batch_size=batch_size,
        )
    print_runs(results, title=f"split {split}", system_column="system", trec_out=trec_out, as_json=as_json)
