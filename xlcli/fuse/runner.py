"""The ``fuse`` step: validate, fit parameters if asked, then fuse, measure and store each missing run.

Everything the user typed is checked against the store before the first write (inputs, their runs,
method, normalisation, k, weights, name, leakage). Each (language, condition) the inputs share is
one fused eval run, stored in one transaction with eval's own code (:func:`xlcli.eval.runs.store_run`)
and measured with eval's measure code (:func:`xlcli.eval.runs.measure_run`), keyed so that a re-run
is a no-op and a killed run resumes at the first missing condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from xlcli import metrics
from xlcli.errors import XlcliError
from xlcli.eval.plan import Plan, _variant_sets
from xlcli.eval.querysets import QuerySet, query_sets
from xlcli.eval.runs import RunResult, ext_ids, find_run, measure_run, read_params, read_result, store_run
from xlcli.eval.trec import check_trec_dir, write_all
from xlcli.fuse import inputs, optimize
from xlcli.fuse import store as fstore
from xlcli.fuse.combine import FusionSpec, Key, fuse_all, make_spec
from xlcli.progress import optional_bar
from xlcli.report.system_runs import SystemRuns
from xlcli.store import Store, invocations
from xlcli.train.pairs import check_split

TRAIN_SPLIT = "train"


@dataclass
class Job:
    """One (language, condition) to fuse: its query set, the inputs' rankings, what to measure."""

    cond: inputs.Condition
    plan: Plan
    qs: QuerySet
    keys: list[Key]
    rankings: list[dict[Key, inputs.Ranking]]
    translator: str


def _job(conn: Connection, ds: dict, systems: Sequence[SystemRuns], cond: inputs.Condition, split: str,
         measures: list[metrics.Measure], depth: int) -> Job:
    translators = {read_params(conn, r.id).get("translator", "") for r in cond.runs}
    if len(translators) > 1:
        raise XlcliError(f"{cond.lang}/{cond.condition}: the systems' runs used different query translators; re-run eval with one --translator")
    translator = translators.pop()
    chosen = [s for s in _variant_sets(conn, ds, "all") if s["id"] == cond.variant_set_id]
    plan = Plan([], [], ds, split, translator, [cond.lang], chosen, measures, depth)
    qs = next(q for q in query_sets(conn, plan) if q.variant_set_id == cond.variant_set_id)
    keys = [(item.query_id, vid) for item in qs.items for vid, _, _ in item.texts]
    for system, run in zip(systems, cond.runs):
        if inputs.measured_keys(conn, run) != set(keys):
            raise XlcliError(f"system {system.name!r}: its {cond.lang}/{cond.condition} run (eval run {run.id}) covers other queries "
                             "than that query set now has; re-run its eval")
    return Job(cond, plan, qs, keys, [inputs.rankings(conn, r.id, depth) for r in cond.runs], translator)


def _measures(value: str | None, conds: Sequence[inputs.Condition]) -> list[metrics.Measure]:
    """--measures, or the measures every input run has."""
    if value is not None:
        return metrics.parse_many(value)
    shared = [m for m in conds[0].runs[0].measures if all(m in r.measures for c in conds for r in c.runs)]
    if not shared:
        raise XlcliError("--measures: the systems' runs share no measure; name the measures to compute")
    return metrics.parse_many(shared)


class _Measurer:
    """Measures fused rankings of a job with eval's code (rankings by ext id → by passage id)."""

    def __init__(self, ext: dict[int, str]):
        self.ext = ext
        self.pid = {e: p for p, e in ext.items()}

    def by_pid(self, fused: dict[Key, inputs.Ranking]) -> dict[Key, list[tuple[int, float]]]:
        return {key: [(self.pid[d], s) for d, s in ranking] for key, ranking in fused.items()}

    def measure(self, job: Job, spec: FusionSpec, measures: list[metrics.Measure]):
        rankings = self.by_pid(fuse_all(job.keys, job.rankings, spec))
        per_variant, per_query = measure_run(job.qs, rankings, self.ext, measures)
        return rankings, per_variant, per_query


def fuse(
    store: Store, name: str, systems: str | Sequence[str], *, method: str = "rrf", norm: str | None = None,
    k: int | None = None, weights: Sequence[float] | None = None, depth: int = 100, langs: str | None = None,
    split: str = "test", measures: str | None = None, optimize_on: str | None = None, opt_measure: str = "R@10",
    allow_leakage: bool = False, trec_out: Path | None = None, show_progress: bool = True,
) -> list[RunResult]:
    """Fuse ``systems`` as the system ``name`` on every shared (language, condition) of ``split``."""
    names = inputs.parse_names(systems) if isinstance(systems, str) else inputs.parse_names(",".join(systems))
    if name in names:
        raise XlcliError(f"--name {name}: a fusion cannot be one of its own inputs")
    with store.read() as conn:
        spec = make_spec(method, norm, k, weights, depth, len(names))
        found = inputs.resolve(conn, names, depth)
        ds = dict(conn.execute(text("SELECT * FROM datasets WHERE id = :i"), {"i": found[0].dataset_id}).mappings().one())
        conds = inputs.conditions(found, split, langs, depth)
        chosen_measures = _measures(measures, conds)
        jobs = [_job(conn, ds, found, c, split, chosen_measures, depth) for c in conds]
        train_jobs, fit = [], None
        if optimize_on is not None:
            check_split(conn, ds, optimize_on, allow_leakage, option="--optimize-on",
                        consequence="fitting fusion parameters on it tunes them to the queries they are evaluated on. "
                                    f"Fit them on --optimize-on {TRAIN_SPLIT}")
            if weights is not None and not spec.method.uses_ranks:
                raise XlcliError("--weights and --optimize-on: give weights or fit them, not both")
            fit = metrics.parse(opt_measure)
            train_conds = inputs.conditions(found, optimize_on, langs, depth)
            train_jobs = [_job(conn, ds, found, c, optimize_on, [fit], depth) for c in train_conds]
        ext = ext_ids(conn, ds["id"])
        if trec_out is not None:
            check_trec_dir(trec_out)
    measurer = _Measurer(ext)
    weights_from: object = "user" if weights is not None else "default"
    if fit is not None:
        def score(candidate: FusionSpec) -> float:
            means = [metrics.mean(measurer.measure(j, candidate, [fit])[2], [fit])[fit.name] for j in train_jobs]
            return sum(means) / len(means)

        choice = optimize.best(spec, score)
        spec, weights_from = choice.spec, choice.params(optimize_on, fit.name)
    leakage = optimize_on is not None and optimize_on != TRAIN_SPLIT
    params = {"dataset": ds["name"], "inputs": [_input(s) for s in found], **spec.params(), "weights_from": weights_from,
              "leakage": leakage}
    key = fstore.fusion_key(params)
    with store.read() as conn:
        fstore.check_name(conn, name, key, ds["id"])
    step_params = {"name": name, "key": key, "split": split, "langs": [c.lang for c in conds],
                   "conditions": [c.condition for c in conds], "measures": [m.name for m in chosen_measures],
                   "input_eval_runs": [[r.id for r in c.runs] for c in conds]}
    results: list[RunResult] = []
    with invocations.step(store, "fuse", step_params) as inv:
        with store.write() as conn:
            fusion_id = fstore.ensure_run(conn, name, ds["id"], spec.method.name, params, key, inv.id)
        with optional_bar(show_progress, f"Fusing {name}", len(jobs), unit="runs") as bar:
            for job in jobs:
                results.append(_run(store, measurer, job, spec, name, fusion_id, key, chosen_measures, inv.id))
                bar.advance(1, info=f"{job.cond.lang} {job.cond.condition}")
        inv.summary = {"runs": len(results), "reused": sum(r.reused for r in results)}
    if trec_out is not None:
        with store.read() as conn:
            write_all(conn, [r.eval_run_id for r in results], trec_out)
    return results


def _input(s: SystemRuns) -> dict:
    return {"system": s.name, "kind": s.kind, "index_id": s.index_id, "rewrite_run_id": s.rewrite_run_id,
            "fusion_run_id": s.fusion_run_id}


def _run(store: Store, measurer: _Measurer, job: Job, spec: FusionSpec, name: str, fusion_id: int, key: str,
         measures: list[metrics.Measure], invocation_id: int) -> RunResult:
    cond, qs = job.cond, job.qs
    run_key, run_params = fstore.run_key(key, name, cond.lang, cond.condition, job.plan.split, [r.id for r in cond.runs],
                                         [m.name for m in measures], qs.variant_set_key, job.translator)
    with store.read() as conn:
        existing = find_run(conn, run_key)
    reused = existing is not None
    if not reused:
        rankings, per_variant, per_query = measurer.measure(job, spec, measures)
        run_params = {**run_params, "fusion_run_id": fusion_id, **spec.params(), "queries": len(qs.items),
                      "queries_without_qrels": qs.without_qrels, "queries_without_variants": qs.without_variants,
                      "variant_aggregation": "mean over variants" if qs.variant_set_id is not None else None}
        with store.write() as conn:
            existing = store_run(conn, run_key, run_params, None, job.plan, qs, rankings, per_variant, per_query,
                                 invocation_id, fusion_run_id=fusion_id)
    with store.read() as conn:
        return read_result(conn, existing, name, cond.lang, cond.condition, job.plan.split, measures, reused)
