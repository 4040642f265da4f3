"""``xlcli index``: encode a dataset's passages into a vec0 index (or build an FTS5 BM25 index)."""

from __future__ import annotations

import typer

from xlcli.ann import kinds_help
from xlcli.augment import check_alpha
from xlcli.commands.common import open_existing, out, print_json
from xlcli.commands.ranges import BATCH, TOKENS, library
from xlcli.encoders import AUTO, check_precision_name, precisions_help


def index(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Index name (used by search and eval)."),
    model: str = typer.Option(
        "default", "--model",
        help="default (packaged all-MiniLM-L6-v2), a registered model name, a model directory or a Hugging Face hub id.",
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset to index (default: the only one)."),
    bm25: bool = typer.Option(False, "--bm25", help="Build a lexical SQLite FTS5 BM25 index instead of a dense one."),
    pooling: str | None = typer.Option(
        None, "--pooling", help="mean or cls, for models without a sentence-transformers config (default mean).", show_default=False
    ),
    query_prefix: str | None = typer.Option(None, "--query-prefix", help="Prefix for queries, e.g. 'query: '."),
    passage_prefix: str | None = typer.Option(None, "--passage-prefix", help="Prefix for passages, e.g. 'passage: '."),
    max_length: int | None = typer.Option(
        None, "--max-length", callback=TOKENS, help="Max tokens per text (default: the model's sentence-transformers setting, else 256).", show_default=False
    ),
    batch_size: int = typer.Option(64, "--batch-size", callback=BATCH, help="Passages per batch (one transaction each)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: str = typer.Option(
        AUTO, "--precision", callback=library(check_precision_name), help=f"Arithmetic of the forward pass: {precisions_help()}."
    ),
    shard: str | None = typer.Option(None, "--shard", help="i/n: encode only passages with id % n == i-1 (run n processes at once)."),
    augment: str | None = typer.Option(
        None, "--augment", help="QG augmentation (xQG, SIGIR 2023): generator run name(s), comma-separated, or 'all'."
    ),
    alpha: float | None = typer.Option(None, "--alpha", callback=library(check_alpha), help="With --augment: e = (1-α)·e_p + α·Σ e_q (default 0.01).", show_default=False),
    fusion: str | None = typer.Option(None, "--fusion", help="With --augment: sum (the reference) or mean.", show_default=False),
    gen_langs: str | None = typer.Option(None, "--gen-langs", help="With --augment: only generated queries in these languages."),
    ann: str | None = typer.Option(
        None, "--ann", help="Also build an approximate-search structure (unscoped corpora of millions): hnsw or ivf.", show_default=False
    ),
    ann_params: str | None = typer.Option(None, "--ann-params", help=f"With --ann: name=value,... ({kinds_help()}).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Build an index over a dataset's passages; resumable (re-run the same command after an interruption)."""
    from xlcli import ann as approximate
    from xlcli.augment import for_index
    from xlcli.errors import XlcliError
    from xlcli.index import build

    if ann_params is not None and ann is None:
        raise XlcliError("--ann-params: give --ann hnsw or --ann ivf too")
    if ann is not None and (bm25 or shard):
        raise XlcliError("--ann builds over a whole dense index: drop --bm25 and --shard (run --ann once all shards are done)")
    built_ann = None
    with open_existing(ctx, write=True) as store:
        wanted = approximate.check_request(store, name, dataset, ann, ann_params) if ann is not None else None
        result = None
        # --ann on a finished index only adds the structure: its model options need not be repeated.
        if wanted is None or not approximate.finished(store, name):
            augmentation, vectorizer = for_index(store, name, dataset, augment, alpha=alpha, fusion=fusion, gen_langs=gen_langs)
            result = build(
                store, name, dataset=dataset, bm25=bm25, model=model, pooling=pooling, query_prefix=query_prefix,
                passage_prefix=passage_prefix, max_length=max_length, batch_size=batch_size, device=device, precision=precision, shard=shard,
                augmentation=augmentation, vectorizer_factory=vectorizer,
            )
        if wanted is not None:
            built_ann = approximate.build_for_index(store, name, *wanted)
    if as_json:
        print_json({**(result.as_dict() if result else {"name": name}), "ann": built_ann[0] if built_ann else None})
        return
    if built_ann is not None:
        settings, fresh = built_ann
        what_ann = ", ".join(f"{k}={v}" for k, v in settings.items() if k != "kind")
        out.print(f"index [bold]{name}[/]: {settings['kind']} structure ({what_ann}) {'built and stored' if fresh else 'already stored'}.")
    if result is None:
        return
    what = "BM25 (FTS5)" if result.kind == "bm25" else f"{result.dim}-d vectors of {result.model}"
    part = f" shard {result.shard[0]}/{result.shard[1]}:" if result.shard else ""
    if result.nothing_to_do:
        out.print(f"index [bold]{name}[/]:{part} already built ({result.total:,} passages, {what}) — nothing to do.")
        return
    out.print(
        f"index [bold]{name}[/]:{part} {result.encoded:,} passages indexed, {result.already_indexed:,} already there "
        f"({what}, dataset {result.dataset}); status {result.status}."
    )
