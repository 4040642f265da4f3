"""Read what ``eval`` stored: which runs to report, the systems behind them, per-query values."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.fuse.store import describe
from xlcli.train.config import recipe as train_recipe


@dataclass(frozen=True)
class System:
    """One row of a report: an index (model × augmentation × training run, or BM25), or a fused system
    (``index_id`` then holds minus the fusion run id, ``kind`` is ``fusion``, ``augmentation`` its description)."""

    index_id: int
    name: str
    kind: str
    model: str | None
    augmentation: str
    training_run: str | None
    leakage: bool
    recipe: str = ""  # the training run's recipe (xlcli.train.config.recipe), "" when untrained

    @property
    def label(self) -> str:
        return self.name + (" [leakage!]" if self.leakage else "")


@dataclass(frozen=True)
class Run:
    id: int
    index_id: int
    lang: str
    split: str
    condition: str
    variant_set_id: int | None
    measures: tuple[str, ...]


def select_runs(conn: Connection, dataset_id: int, invocation_ids: list[int] | None = None) -> list[Run]:
    """The latest eval run per (index, language, split, condition), or those of the given invocations."""
    sql = (
        "SELECT * FROM eval_runs WHERE dataset_id = :d"
        + (f" AND invocation_id IN ({','.join(str(int(i)) for i in invocation_ids)})" if invocation_ids else "")
        + " ORDER BY id"
    )
    latest: dict[tuple, Run] = {}
    for row in conn.execute(text(sql), {"d": dataset_id}).mappings():
        run = Run(row["id"], system_key(row), row["lang"], row["split"], row["condition"], row["variant_set_id"],
                  tuple(row["measures"].split()))
        latest[(run.index_id, run.lang, run.split, run.condition)] = run
    if not latest:
        which = f"eval invocations {', '.join(map(str, invocation_ids))}" if invocation_ids else "this dataset"
        raise XlcliError(f"no eval runs for {which}: run `xlcli eval --index ...` first")
    return sorted(latest.values(), key=lambda r: r.id)


def system_key(row) -> int:
    """The report's key of an eval run's system: its index id, or minus its fusion run id for a fused
    system (which has no index); index and fusion ids are both positive, so the keys never collide."""
    fusion = row.get("fusion_run_id")
    return -fusion if fusion is not None else row["index_id"]


def _fused(conn: Connection, keys: set[int]) -> dict[int, System]:
    """Fused systems (negative keys): the fusion's name, and its method and inputs as the description."""
    wanted = [-k for k in keys if k < 0]
    if not wanted:
        return {}
    found = {}
    for fid, name, params_json in conn.execute(text(
            f"SELECT id, name, params_json FROM fusion_runs WHERE id IN ({','.join(str(int(i)) for i in wanted)})")):
        params = json.loads(params_json)
        found[-fid] = System(-fid, name, "fusion", None, describe(params), None, bool(params.get("leakage")))
    return found


def systems(conn: Connection, index_ids: set[int]) -> dict[int, System]:
    """The System of each report key (see :func:`system_key`): indexes, and fused systems."""
    fused = _fused(conn, index_ids)
    index_ids = {i for i in index_ids if i > 0}
    if not index_ids:
        return fused
    rows = conn.execute(text(
        "SELECT i.id, i.name, i.kind, i.augmentation_json, m.name AS model, t.name AS run, t.allow_leakage, t.config_json"
        " FROM indexes i LEFT JOIN models m ON m.id = i.model_id LEFT JOIN training_runs t ON t.id = m.training_run_id"
        f" WHERE i.id IN ({','.join(str(int(i)) for i in index_ids)}) ORDER BY i.id"
    )).mappings()
    found = {}
    for r in rows:
        augmentation = ""
        if r["augmentation_json"]:
            aug = json.loads(r["augmentation_json"])
            augmentation = ", ".join(f"{k}={v}" for k, v in aug.items() if k in ("generator_run", "generator_runs", "alpha", "fusion"))
        recipe = train_recipe(json.loads(r["config_json"])) if r["config_json"] else ""
        found[r["id"]] = System(r["id"], r["name"], r["kind"], r["model"], augmentation, r["run"], bool(r["allow_leakage"]), recipe)
    return {**found, **fused}


def per_query(conn: Connection, runs: list[Run], measure: str) -> dict[int, dict[int, float]]:
    """{eval run id: {query id: value}} — the query-level values (the mean over variants for a variant set)."""
    ids = ",".join(str(r.id) for r in runs)
    values: dict[int, dict[int, float]] = {r.id: {} for r in runs}
    for run_id, query_id, value in conn.execute(text(
        f"SELECT eval_run_id, query_id, value FROM eval_measures WHERE eval_run_id IN ({ids})"
        " AND variant_id = 0 AND measure = :m"), {"m": measure}):
        values[run_id][query_id] = value
    return values


def categories(conn: Connection, query_ids: set[int]) -> dict[int, str]:
    if not query_ids:
        return {}
    rows = conn.execute(text(
        "SELECT id, json_extract(metadata_json, '$.category_name') FROM queries"
        f" WHERE id IN ({','.join(map(str, query_ids))})"))
    return {qid: name for qid, name in rows if name}


def per_variant_by_distance(conn: Connection, runs: list[Run], measure: str) -> list[tuple[int, int, float]]:
    """(eval run id, Damerau distance, value) for every variant evaluated in ``runs``."""
    variant_runs = [r for r in runs if r.variant_set_id is not None]
    if not variant_runs:
        return []
    ids = ",".join(str(r.id) for r in variant_runs)
    return list(conn.execute(text(
        "SELECT m.eval_run_id, v.damerau, m.value FROM eval_measures m JOIN query_variants v ON v.id = m.variant_id"
        f" WHERE m.eval_run_id IN ({ids}) AND m.variant_id > 0 AND m.measure = :m"), {"m": measure}).all())
