"""The ``eval`` step: plan, then compute and store each missing run, then export.

Every (system, query set) pair is one run, keyed by what it depends on: re-running ``eval``
skips runs already stored, and a killed eval resumes at the first missing run. All the queries
the missing dense runs need are encoded first, once per encoder (see :mod:`xlcli.eval.retrieve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xlcli import metrics
from xlcli.errors import XlcliError
from xlcli.eval import rewritten
from xlcli.eval.plan import DEFAULT_DEPTH, Plan, plan
from xlcli.eval.querysets import QuerySet, query_sets
from xlcli.eval.retrieve import Retriever
from xlcli.eval.runs import (
    RunResult,
    ext_ids,
    find_run,
    measure_run,
    read_result,
    run_key,
    store_run,
)
from xlcli.eval.systems import SystemSpec
from xlcli.eval.trec import check_trec_dir, write_all
from xlcli.progress import optional_bar
from xlcli.store import Store, invocations
from xlcli.store.catalog import BM25


def evaluate(
    store: Store,
    systems: Sequence[SystemSpec | str],
    *,
    dataset: str | None = None,
    langs: str | None = None,
    split: str = "test",
    variants: str = "all",
    measures: str = metrics.DEFAULT_MEASURES,
    depth: int = DEFAULT_DEPTH,
    translator: str = "",
    trec_out: Path | None = None,
    device: str = "auto",
    batch_size: int = 64,
    show_progress: bool = True,
) -> list[RunResult]:
    """Evaluate each system on every chosen query set; return one result per (system, lang, condition).

    ``systems`` are :class:`SystemSpec` or their text form (an index name).
    """
    specs = [s if isinstance(s, SystemSpec) else SystemSpec.parse(s) for s in systems]
    with store.read() as conn:
        p = plan(conn, specs, dataset=dataset, langs=langs, split=split, variants=variants,
                 measures=measures, depth=depth, translator=translator)
        sets = query_sets(conn, p)
        ext = ext_ids(conn, p.dataset["id"])
    if trec_out is not None:
        check_trec_dir(trec_out)
    if device not in ("auto", "cpu") and any(r["kind"] != BM25 for r in p.indexes):
        from xlcli.encoders import pick_device  # imports torch: only when a device must be checked

        pick_device(device)  # a wrong --device is refused here, not as a failed eval invocation
    params = {"indexes": [r["name"] for r in p.indexes], "dataset": p.dataset["name"], "langs": p.langs, "split": split,
              "translator": translator, "variant_sets": [s["condition"] for s in p.variant_sets],
              "measures": [m.name for m in p.measures], "depth": depth}
    if any(p.rewrites):
        params["systems"] = [spec.label for spec in p.systems]
    with store.read() as conn:
        jobs = _jobs(conn, p, sets)
    retriever = Retriever(store, device=device, batch_size=batch_size)
    results: list[RunResult] = []
    with invocations.step(store, "eval", params) as inv:
        retriever.invocation_id = inv.id
        retriever.prepare([(row, qs) for _, row, _, qs, _, _, existing in jobs if existing is None], show_progress)
        with optional_bar(show_progress, "Evaluating", len(jobs), unit="runs") as bar:
            for spec, row, _, qs, key, run_params, existing in jobs:
                reused = existing is not None
                if not reused:
                    existing = _compute_and_store(store, retriever, row, p, qs, ext, key, run_params, inv.id)
                with store.read() as conn:
                    results.append(read_result(conn, existing, row["name"], qs.lang, qs.condition, split, p.measures, reused,
                                               rewrite=spec.rewrite))
                bar.advance(1, info=f"{spec.label} {qs.lang} {qs.condition}")
        inv.summary = {"runs": len(results), "reused": sum(r.reused for r in results)}
    if trec_out is not None:
        with store.read() as conn:
            write_all(conn, [r.eval_run_id for r in results], trec_out)
    return results


def _jobs(conn, p: Plan, sets: list[QuerySet]) -> list[tuple]:
    """(spec, index row, rewrite, query set, key, run params, stored run id or None) per run to report.

    A rewrite system gets the query sets its rewrite covers, with the rewritten texts in place
    (see :mod:`xlcli.eval.rewritten`); it must cover at least one of them.
    """
    names = {vs["id"]: vs["name"] for vs in p.variant_sets}
    jobs = []
    for spec, row, rewrite in p.systems_with_rows():
        chosen = sets if rewrite is None else [rewritten.apply(conn, rewrite, qs) for qs in sets if rewritten.covers(rewrite, qs, names)]
        if not chosen and rewrite is not None:
            raise XlcliError(f"system {spec.label!r}: the rewrite run covers none of the evaluated query sets "
                             f"({', '.join(sorted({qs.lang for qs in sets}))}; it rewrote {', '.join(rewrite.langs)})")
        for qs in chosen:
            key, run_params = run_key(row, p.dataset, qs, p, rewrite)
            jobs.append((spec, row, rewrite, qs, key, run_params, find_run(conn, key)))
    return jobs


def _compute_and_store(store: Store, retriever: Retriever, row, p: Plan, qs: QuerySet, ext: dict[int, str],
                       key: str, run_params: dict, invocation_id: int) -> int:
    flat = [(item, vid, t) for item in qs.items for vid, _, t in item.texts]
    ranked = retriever.rank(row, [t for _, _, t in flat], [item.scope for item, _, _ in flat], p.depth)
    rankings = {(item.query_id, vid): r for (item, vid, _), r in zip(flat, ranked)}
    per_variant, per_query = measure_run(qs, rankings, ext, p.measures)
    run_params = {**run_params, "queries": len(qs.items), "queries_without_qrels": qs.without_qrels,
                  "queries_without_variants": qs.without_variants, "retrieval": "within scope" if any(i.scope for i in qs.items) else "all passages",
                  "variant_aggregation": "mean over variants" if qs.variant_set_id is not None else None}
    recall = retriever.ann_recall(row, [t for _, _, t in flat], [item.scope for item, _, _ in flat], p.depth)
    if recall is not None:  # what the approximate structure costs, on a sample (see xlcli.ann.sample)
        run_params[f"ann_recall@{p.depth}"] = round(recall, 4)
    with store.write() as conn:
        return store_run(conn, key, run_params, row, p, qs, rankings, per_variant, per_query, invocation_id)
