"""Eval runs in the store: their keys, measuring one, storing it, reading it back.

A run is stored in one transaction (``eval_runs`` row, top-``depth`` ``eval_rankings``, per-query
``eval_measures``), keyed by a hash of everything it depends on (:func:`run_key`), so a run
already stored is found by its key and never computed twice.

**Variant sets.** Every variant of a query is ranked and measured on its own (``eval_measures``
rows with ``variant_id`` = the variant's id, rankings likewise); the query's value (``variant_id``
0) is the **mean over its variants**, so each query weighs the same whatever its number of
variants, and the run's value is the mean of those query values. A query the protocol could not
perturb (no variants) is left out of that condition and counted in the run's ``params_json``
(``queries_without_variants``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from xlcli import metrics
from xlcli.eval.plan import Plan
from xlcli.eval.querysets import QuerySet
from xlcli.eval.systems import SystemSpec
from xlcli.rewrite.store import RewriteRun
from xlcli.search import Ranking
from xlcli.store.invocations import canonical_json, now, params_key


@dataclass
class RunResult:
    index: str
    lang: str
    condition: str
    split: str
    queries: int
    means: dict[str, float]
    eval_run_id: int
    reused: bool
    params: dict = field(default_factory=dict)
    rewrite: str | None = None

    @property
    def system(self) -> str:
        return SystemSpec(self.index, self.rewrite).label

    def as_dict(self) -> dict:
        return {"system": self.system, "index": self.index, "rewrite": self.rewrite, "lang": self.lang, "condition": self.condition,
                "split": self.split, "queries": self.queries, **self.means, "eval_run_id": self.eval_run_id,
                **{k: v for k, v in self.params.items() if k.startswith("ann_recall@")}}


def run_key(index_row, dataset: dict, qs: QuerySet, p: Plan, rewrite: RewriteRun | None = None) -> tuple[str, dict]:
    """(key, parameters) of the run of ``index_row`` (on ``rewrite``'s texts, if any) on ``qs``: same parameters, same key.

    A rewrite enters the key through its own key (backend, dictionaries or model, options,
    coverage), so a run over another rewrite's texts never passes for this one; a direct run's key
    has no rewrite entry at all, so keys stored before rewrites existed stay valid.
    """
    params = {
        "index": index_row["name"], "index_id": index_row["id"], "dataset": dataset["name"], "lang": qs.lang,
        "split": p.split, "translator": p.translator, "condition": qs.condition, "variant_set_key": qs.variant_set_key,
        "measures": [m.name for m in p.measures], "depth": p.depth,
    }
    ann = json.loads(index_row["params_json"]).get("ann")
    if ann is not None:  # approximate rankings differ from exact ones: another run (absent for exact, so old keys hold)
        params["ann"] = ann
    if rewrite is not None:
        params.update({"rewrite": rewrite.name, "rewrite_run_id": rewrite.id, "rewrite_key": rewrite.key})
    return params_key(params), params


def find_run(conn: Connection, key: str) -> int | None:
    """The id of the stored run with this key, if any."""
    return conn.execute(text("SELECT id FROM eval_runs WHERE key = :k"), {"k": key}).scalar()


def ext_ids(conn: Connection, dataset_id: int) -> dict[int, str]:
    """Passage id → ext id, the doc ids measures see."""
    return dict(conn.execute(text("SELECT id, ext_id FROM passages WHERE dataset_id = :d"), {"d": dataset_id}).all())


def measure_run(qs: QuerySet, rankings: dict[tuple[int, int], Ranking], ext: dict[int, str], measures: list[metrics.Measure]):
    """Per-(query, variant) values and per-query values (the mean over a query's variants)."""
    run = {f"{qid}:{vid}": {ext[pid]: score for pid, score in ranking} for (qid, vid), ranking in rankings.items()}
    qrels = {}
    for item in qs.items:
        judged = {ext[pid]: rel for pid, rel in qs.qrels[item.query_id].items()}
        for vid, _, _ in item.texts:
            qrels[f"{item.query_id}:{vid}"] = judged
    per_key = metrics.evaluate(run, qrels, measures)
    per_variant = {(item.query_id, vid): per_key[f"{item.query_id}:{vid}"] for item in qs.items for vid, _, _ in item.texts}
    per_query = {
        item.query_id: metrics.mean([per_variant[(item.query_id, vid)] for vid, _, _ in item.texts], measures)
        for item in qs.items
    }
    return per_variant, per_query


def store_run(conn: Connection, key: str, params: dict, index_row, p: Plan, qs: QuerySet,
              rankings: dict[tuple[int, int], Ranking], per_variant: dict, per_query: dict, invocation_id: int,
              *, fusion_run_id: int | None = None) -> int:
    """Write the run row, its rankings and its per-query (and per-variant) values; return the run id.

    A fused system's run (``fuse``) has no index: ``index_row`` None and ``fusion_run_id`` set.
    """
    run_id = conn.execute(
        text("INSERT INTO eval_runs (index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth,"
             " params_json, key, created_at, invocation_id, fusion_run_id, rewrite_run_id)"
             " VALUES (:i, :d, :l, :s, :c, :vs, :m, :depth, :p, :k, :t, :inv, :f, :rw) RETURNING id"),
        {"i": None if index_row is None else index_row["id"], "f": fusion_run_id, "rw": params.get("rewrite_run_id"),
         "d": p.dataset["id"], "l": qs.lang, "s": p.split, "c": qs.condition, "vs": qs.variant_set_id,
         "m": " ".join(m.name for m in p.measures), "depth": p.depth, "p": canonical_json(params), "k": key, "t": now(),
         "inv": invocation_id},
    ).scalar_one()
    ranked = [(run_id, qid, vid, rank, pid, score)
              for (qid, vid), ranking in rankings.items() for rank, (pid, score) in enumerate(ranking, start=1)]
    if ranked:  # every ranking may be empty (BM25 with no query term in the passages); the driver refuses no rows
        conn.exec_driver_sql(
            "INSERT INTO eval_rankings (eval_run_id, query_id, variant_id, rank, passage_id, score) VALUES (?, ?, ?, ?, ?, ?)", ranked
        )
    rows = [(run_id, qid, 0, name, value) for qid, values in per_query.items() for name, value in values.items()]
    if qs.variant_set_id is not None:
        rows += [(run_id, qid, vid, name, value) for (qid, vid), values in per_variant.items() for name, value in values.items()]
    conn.exec_driver_sql(
        "INSERT INTO eval_measures (eval_run_id, query_id, variant_id, measure, value) VALUES (?, ?, ?, ?, ?)", rows
    )
    return run_id


def read_params(conn: Connection, run_id: int) -> dict:
    """The stored run's ``params_json``."""
    return json.loads(conn.execute(text("SELECT params_json FROM eval_runs WHERE id = :i"), {"i": run_id}).scalar_one())


def read_result(conn: Connection, run_id: int, system: str, lang: str, condition: str, split: str,
                measures: list[metrics.Measure], reused: bool, rewrite: str | None = None) -> RunResult:
    """A stored run as a :class:`RunResult`: its parameters and the means of its per-query values."""
    per_query = read_per_query(conn, run_id)
    return RunResult(system, lang, condition, split, len(per_query), metrics.mean(per_query, measures), run_id, reused,
                     read_params(conn, run_id), rewrite)


def read_per_query(conn: Connection, run_id: int) -> dict[int, dict[str, float]]:
    """Query id → {measure: value} of a stored run (the per-query values, ``variant_id`` 0), by query id."""
    per_query: dict[int, dict[str, float]] = {}
    for qid, name, value in conn.execute(
        text("SELECT query_id, measure, value FROM eval_measures WHERE eval_run_id = :r AND variant_id = 0 ORDER BY query_id"),
        {"r": run_id},
    ):
        per_query.setdefault(qid, {})[name] = value
    return per_query
