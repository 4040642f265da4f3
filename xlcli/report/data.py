"""Read what ``eval`` stored: which runs to report, the systems behind them, per-query values."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.eval.systems import SystemSpec
from xlcli.fuse.store import describe
from xlcli.rewrite import store as rewrite_store
from xlcli.rewrite.store import RewriteRun
from xlcli.train.config import recipe as train_recipe

SystemKey = tuple  # (index_id, rewrite_run_id, fusion_run_id); None where a part is absent


@dataclass(frozen=True)
class System:
    """One row of a report: an index (model × augmentation × training run, or BM25), optionally on
    the queries a rewrite run rewrote (``INDEX ⟲ REWRITE``); a fusion of systems is keyed the same
    way (``fusion_run_id``, no index). Everything a report keys by a system uses :attr:`key`."""

    index_id: int | None
    name: str                       # SystemSpec.label: the index name, or "INDEX ⟲ REWRITE"
    kind: str
    model: str | None
    augmentation: str
    training_run: str | None
    leakage: bool
    recipe: str = ""  # the training run's recipe (xlcli.train.config.recipe), "" when untrained
    rewrite_run_id: int | None = None
    rewrite: str | None = None      # the rewrite run's name
    rewrite_description: str = ""   # backend → target (options), e.g. "lexicon → en (lemma, fuzzy, ...)"
    fusion_run_id: int | None = None
    index: str | None = None        # the index's name (None for a fusion)

    @property
    def key(self) -> SystemKey:
        return (self.index_id, self.rewrite_run_id, self.fusion_run_id)

    @property
    def spec(self) -> SystemSpec:
        return SystemSpec(self.index or self.name, self.rewrite)

    @property
    def label(self) -> str:
        return self.name + (" [leakage!]" if self.leakage else "")

    def named(self, text: str) -> bool:
        """Whether ``text`` names this system: its label, or ``INDEX@REWRITE`` / ``INDEX ⟲ REWRITE``."""
        if text.strip() in (self.name, self.label):
            return True
        try:
            return self.fusion_run_id is None and SystemSpec.parse(text) == self.spec
        except XlcliError:
            return False


@dataclass(frozen=True)
class Run:
    id: int
    index_id: int | None
    lang: str
    split: str
    condition: str
    variant_set_id: int | None
    measures: tuple[str, ...]
    rewrite_run_id: int | None = None
    fusion_run_id: int | None = None

    @property
    def system_key(self) -> SystemKey:
        return (self.index_id, self.rewrite_run_id, self.fusion_run_id)

    @classmethod
    def of(cls, row) -> Run:
        """From an ``eval_runs`` row (columns a store lacks read as None)."""
        return cls(row["id"], row["index_id"], row["lang"], row["split"], row["condition"], row["variant_set_id"],
                   tuple(row["measures"].split()), row.get("rewrite_run_id"), row.get("fusion_run_id"))


def select_runs(conn: Connection, dataset_id: int, invocation_ids: list[int] | None = None) -> list[Run]:
    """The latest eval run per (system, language, split, condition), or those of the given invocations."""
    sql = (
        "SELECT * FROM eval_runs WHERE dataset_id = :d"
        + (f" AND invocation_id IN ({','.join(str(int(i)) for i in invocation_ids)})" if invocation_ids else "")
        + " ORDER BY id"
    )
    latest: dict[tuple, Run] = {}
    for row in conn.execute(text(sql), {"d": dataset_id}).mappings():
        run = Run.of(row)
        latest[(run.system_key, run.lang, run.split, run.condition)] = run
    if not latest:
        which = f"eval invocations {', '.join(map(str, invocation_ids))}" if invocation_ids else "this dataset"
        raise XlcliError(f"no eval runs for {which}: run `xlcli eval --index ...` first")
    return sorted(latest.values(), key=lambda r: r.id)


def systems(conn: Connection, keys: set[SystemKey]) -> dict[SystemKey, System]:
    """The system behind each key: the index's model, augmentation and training run, and the rewrite."""
    index_ids = {k[0] for k in keys if k[0] is not None}
    rows = conn.execute(text(
        "SELECT i.id, i.name, i.kind, i.augmentation_json, m.name AS model, t.name AS run, t.allow_leakage, t.config_json"
        " FROM indexes i LEFT JOIN models m ON m.id = i.model_id LEFT JOIN training_runs t ON t.id = m.training_run_id"
        f" WHERE i.id IN ({','.join(str(int(i)) for i in index_ids) or 'NULL'}) ORDER BY i.id"
    )).mappings()
    indexes = {}
    for r in rows:
        augmentation = ""
        if r["augmentation_json"]:
            aug = json.loads(r["augmentation_json"])
            augmentation = ", ".join(f"{k}={v}" for k, v in aug.items() if k in ("generator_run", "generator_runs", "alpha", "fusion"))
        indexes[r["id"]] = dict(index_id=r["id"], name=r["name"], kind=r["kind"], model=r["model"], augmentation=augmentation,
                                training_run=r["run"], leakage=bool(r["allow_leakage"]), index=r["name"],
                                recipe=train_recipe(json.loads(r["config_json"])) if r["config_json"] else "")
    rewrites = {run.id: run for run in rewrite_store.list_runs(conn)} if any(k[1] for k in keys) else {}
    found = {}
    for key in keys:
        index_id, rewrite_run_id, fusion_run_id = key
        if index_id is None:  # a fusion (no index): named by its fusion run; the fuse step adds its description
            name, params = _fusion(conn, fusion_run_id)
            found[key] = System(None, name, "fusion", None, describe(params), None, bool(params.get("leakage")),
                                fusion_run_id=fusion_run_id)
            continue
        fields = dict(indexes[index_id], fusion_run_id=fusion_run_id)
        if rewrite_run_id is not None:
            run = rewrites[rewrite_run_id]
            fields.update(rewrite_run_id=run.id, rewrite=run.name, rewrite_description=describe_rewrite(run),
                          name=SystemSpec(fields["index"], run.name).label)
        found[key] = System(**fields)
    return found


def _fusion(conn: Connection, fusion_run_id: int) -> tuple[str, dict]:
    """A fused system's name and parameters (its method and inputs: the report's description)."""
    name, params_json = conn.execute(text("SELECT name, params_json FROM fusion_runs WHERE id = :f"), {"f": fusion_run_id}).one()
    return name, json.loads(params_json)


def describe_rewrite(run: RewriteRun) -> str:
    """``backend → target (options)``: what a rewrite system's queries went through."""
    target = "each query's language" if run.target_lang == "source" else run.target_lang
    options = run.params.get("options") or {}
    shown = [k if v is True else f"{k}={v}" for k, v in options.items() if v is not False and v is not None]
    source = run.params.get("model")
    return f"{run.backend} → {target}" + (f" [{source}]" if source else "") + (f" ({', '.join(shown)})" if shown else "")


def order(system: System) -> tuple:
    """Report rows: by index, each index's direct system first, then its rewrites; fusions last."""
    return (system.index_id is None, system.index_id or 0, system.rewrite_run_id or 0, system.fusion_run_id or 0)


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
