"""Perturbing a dataset's queries into the store: variant sets, their variants, their skips.

A *variant set* is one (dataset, protocol, parameters, seed, user layouts); languages and
splits are not part of it, so perturbing ``es`` and later ``de`` fills the same set. Work is
done query by query in batches, each batch's variants and skips written in one transaction,
and queries that already have rows in the set are not touched again — so re-running adds
nothing, and a run killed half-way and re-run completes with no duplicates and the same rows
as an uninterrupted run (variants depend only on text, language, protocol, parameters, seed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.perturb import layouts as L
from xlcli.perturb import tables as TB
from xlcli.perturb.protocols import Spec, perturb
from xlcli.store import Store, invocations
from xlcli.store.catalog import resolve_dataset

BATCH = 500


@dataclass
class Plan:
    """Everything a run needs, validated before anything is written."""

    dataset_id: int
    dataset: str
    spec: Spec
    seed: int
    langs: list[str]
    split: str | None
    tables: dict[str, TB.LangTables]
    user_layouts: dict[str, dict]       # lang -> {"name", "digest"} for --layout overrides
    query_count: int
    query_digest: str

    def set_params(self) -> dict:
        """The identity of the variant set (not langs/split)."""
        return {"protocol": self.spec.protocol, "params": self.spec.params(), "seed": self.seed, "layouts": self.user_layouts}

    def invocation_params(self) -> dict:
        return {
            "dataset": self.dataset, **self.set_params(), "langs": self.langs, "split": self.split,
            "queries": {"count": self.query_count, "digest": self.query_digest},
        }


@dataclass
class LangSummary:
    queries: int = 0
    perturbed: int = 0
    variants: int = 0
    skipped: int = 0
    short: int = 0


@dataclass
class Result:
    set_id: int
    name: str
    invocation_id: int
    already_done: bool
    added_variants: int = 0
    added_skips: int = 0
    by_lang: dict[str, LangSummary] = field(default_factory=dict)
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "variant_set": self.name, "variant_set_id": self.set_id, "invocation_id": self.invocation_id,
            "already_done": self.already_done, "added_variants": self.added_variants, "added_skips": self.added_skips,
            "by_lang": {k: vars(v) for k, v in self.by_lang.items()}, "skip_reasons": self.skip_reasons,
        }


def parse_layout_options(values: list[str] | None) -> dict[str, str]:
    """``["de=path.json", "fr=fr,pt=pt-PT"]`` → ``{"de": "path.json", "fr": "fr", "pt": "pt-PT"}``."""
    found: dict[str, str] = {}
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            lang, sep, spec = part.partition("=")
            if not sep or not lang.strip() or not spec.strip():
                raise XlcliError(f"--layout {part!r}: expected LANG=NAME_OR_FILE, e.g. de=my_layout.json or pt=pt-PT")
            found[lang.strip().lower()] = spec.strip()
    return found


def resolve_tables(langs: list[str], layout_specs: dict[str, str]) -> tuple[dict[str, TB.LangTables], dict[str, dict]]:
    """Tables per language and the identity of user-chosen layouts; unknown ones are errors."""
    tables: dict[str, TB.LangTables] = {}
    user: dict[str, dict] = {}
    for lang in langs:
        if lang in layout_specs:
            layout = L.load(layout_specs[lang])
            user[lang] = {"name": layout.name, "digest": layout.digest}
            tables[lang] = TB.get(lang, layout)
        else:
            tables[lang] = TB.get(TB.check_lang(lang))
    return tables, user


def make_plan(store: Store, *, dataset: str | None, spec: Spec, seed: int, langs: list[str] | None,
              split: str | None, layout_specs: dict[str, str]) -> Plan:
    with store.read() as conn:
        ds = resolve_dataset(conn, dataset)
        rows = conn.execute(
            text("SELECT lang, split, count(*) AS n FROM queries WHERE dataset_id = :d GROUP BY lang, split"),
            {"d": ds["id"]},
        ).all()
        splits = sorted({r.split for r in rows})
        if split is not None and split not in splits:
            raise XlcliError(f"dataset {ds['name']!r} has no split {split!r} (splits: {', '.join(splits) or 'none'})")
        present = sorted({r.lang for r in rows if split is None or r.split == split})
        if langs is None:
            langs = present
        else:
            missing = [lang for lang in langs if lang not in present]
            if missing:
                where = f" in split {split!r}" if split else ""
                raise XlcliError(
                    f"dataset {ds['name']!r} has no {', '.join(missing)} queries{where} (languages: {', '.join(present) or 'none'})"
                )
        if not langs:
            raise XlcliError(f"dataset {ds['name']!r} has no queries to perturb")
        unused = sorted(set(layout_specs) - set(langs))
        if unused:
            raise XlcliError(f"--layout given for {', '.join(unused)}, which is not among the languages perturbed ({', '.join(langs)})")
        tables, user = resolve_tables(langs, layout_specs)
        ids = _query_ids(conn, ds["id"], langs, split)
    digest = hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=8).hexdigest()
    return Plan(ds["id"], ds["name"], spec, seed, list(langs), split, tables, user, len(ids), digest)


def _selection(langs: list[str], split: str | None) -> tuple[str, dict]:
    params: dict = {f"l{i}": lang for i, lang in enumerate(langs)}
    sql = f"q.lang IN ({', '.join(':' + k for k in params)})"
    if split is not None:
        sql += " AND q.split = :split"
        params["split"] = split
    return sql, params


def _query_ids(conn: Connection, dataset_id: int, langs: list[str], split: str | None) -> list[int]:
    where, params = _selection(langs, split)
    return [r[0] for r in conn.execute(
        text(f"SELECT q.id FROM queries q WHERE q.dataset_id = :d AND {where} ORDER BY q.id"), {"d": dataset_id, **params})]


def _variant_set(conn: Connection, plan: Plan, name: str | None, invocation_id: int) -> tuple[int, str]:
    params = plan.set_params()
    key = invocations.params_key(params)
    row = conn.execute(text("SELECT id, name FROM variant_sets WHERE dataset_id = :d AND key = :k"),
                       {"d": plan.dataset_id, "k": key}).first()
    if row is not None:
        if name is not None and name != row.name:
            raise XlcliError(f"these parameters already form variant set {row.name!r}; drop --name or use {row.name!r}")
        return row.id, row.name
    taken = {r[0] for r in conn.execute(text("SELECT name FROM variant_sets WHERE dataset_id = :d"), {"d": plan.dataset_id})}
    if name is not None:
        if name in taken:
            raise XlcliError(f"variant set name {name!r} is taken by a set with other parameters: choose another --name")
    else:
        base = plan.spec.default_name()
        for candidate in (base, f"{base}-s{plan.seed}", f"{base}-s{plan.seed}-{key[:6]}"):
            if candidate not in taken:
                name = candidate
                break
        else:  # pragma: no cover - a 48-bit key prefix collision
            name = f"{base}-{key}"
    set_id = conn.execute(
        text("INSERT INTO variant_sets (dataset_id, name, protocol, params_json, seed, key, invocation_id)"
             " VALUES (:d, :n, :p, :j, :s, :k, :i) RETURNING id"),
        {"d": plan.dataset_id, "n": name, "p": plan.spec.protocol,
         "j": invocations.canonical_json({**plan.spec.params(), "layouts": plan.user_layouts}),
         "s": plan.seed, "k": key, "i": invocation_id},
    ).scalar_one()
    return set_id, name


def _pending(conn: Connection, plan: Plan, set_id: int) -> list[tuple[int, str, str]]:
    where, params = _selection(plan.langs, plan.split)
    return [tuple(r) for r in conn.execute(text(
        "SELECT q.id, q.lang, q.text FROM queries q WHERE q.dataset_id = :d AND " + where +
        " AND NOT EXISTS (SELECT 1 FROM query_variants v WHERE v.variant_set_id = :vs AND v.query_id = q.id)"
        " AND NOT EXISTS (SELECT 1 FROM variant_skips s WHERE s.variant_set_id = :vs AND s.query_id = q.id)"
        " ORDER BY q.id"), {"d": plan.dataset_id, "vs": set_id, **params})]


def _write(store: Store, set_id: int, invocation_id: int, variants: list[tuple], skips: list[tuple]) -> None:
    with store.write() as conn:
        if variants:
            conn.exec_driver_sql(
                "INSERT INTO query_variants (variant_set_id, query_id, idx, text, operations_json, levenshtein, damerau,"
                f" seed, invocation_id) VALUES ({set_id}, ?, ?, ?, ?, ?, ?, ?, {invocation_id})",
                variants,
            )
        if skips:
            conn.exec_driver_sql(
                f"INSERT INTO variant_skips (variant_set_id, query_id, reason, invocation_id) VALUES ({set_id}, ?, ?, {invocation_id})",
                skips,
            )


def summarise(conn: Connection, plan: Plan, set_id: int) -> tuple[dict[str, LangSummary], dict[str, int]]:
    """What the set holds for the plan's languages and split (after this and earlier runs)."""
    where, params = _selection(plan.langs, plan.split)
    by_lang = {lang: LangSummary() for lang in plan.langs}
    rows = conn.execute(text(
        "SELECT q.lang, count(*) AS queries, sum(c.n > 0) AS perturbed, sum(coalesce(c.n, 0)) AS variants,"
        " sum(s.query_id IS NOT NULL) AS skipped, sum(c.n < :n) AS short"
        " FROM queries q"
        " LEFT JOIN (SELECT query_id, count(*) AS n FROM query_variants WHERE variant_set_id = :vs GROUP BY query_id) c"
        "   ON c.query_id = q.id"
        " LEFT JOIN variant_skips s ON s.variant_set_id = :vs AND s.query_id = q.id"
        " WHERE q.dataset_id = :d AND " + where + " GROUP BY q.lang"),
        {"d": plan.dataset_id, "vs": set_id, "n": plan.spec.variants, **params}).all()
    for r in rows:
        by_lang[r.lang] = LangSummary(r.queries, r.perturbed or 0, r.variants or 0, r.skipped or 0, r.short or 0)
    reasons = dict(conn.execute(text(
        "SELECT s.reason, count(*) FROM variant_skips s JOIN queries q ON q.id = s.query_id"
        " WHERE s.variant_set_id = :vs AND q.dataset_id = :d AND " + where + " GROUP BY s.reason ORDER BY 2 DESC, 1"),
        {"d": plan.dataset_id, "vs": set_id, **params}).all())
    return by_lang, reasons


def run(store: Store, plan: Plan, *, name: str | None = None,
        on_progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None) -> Result:
    """Perturb the plan's queries into their variant set (resuming, never duplicating)."""
    spec, seed = plan.spec, plan.seed
    with invocations.step(store, "perturb", plan.invocation_params()) as inv:
        if inv.already_done:
            if on_total:
                on_total(0)
            with store.read() as conn:
                row = conn.execute(text("SELECT id, name FROM variant_sets WHERE dataset_id = :d AND key = :k"),
                                   {"d": plan.dataset_id, "k": invocations.params_key(plan.set_params())}).first()
                if row is None:  # the set was deleted by hand: nothing to report on
                    raise XlcliError("this perturb run is recorded as done but its variant set is gone from the store")
                result = Result(row.id, row.name, inv.id, True)
                result.by_lang, result.skip_reasons = summarise(conn, plan, row.id)
            return result
        with store.write() as conn:
            set_id, set_name = _variant_set(conn, plan, name, inv.id)
        with store.read() as conn:
            pending = _pending(conn, plan, set_id)
        if on_total:
            on_total(len(pending))
        result = Result(set_id, set_name, inv.id, False)
        for start in range(0, len(pending), BATCH):
            variants: list[tuple] = []
            skips: list[tuple] = []
            for query_id, lang, query_text in pending[start : start + BATCH]:
                outcome = perturb(query_text, plan.tables[lang], spec, seed)
                if outcome.skip is not None:
                    skips.append((query_id, outcome.skip))
                    continue
                for idx, v in enumerate(outcome.variants):
                    ops = json.dumps([op.as_dict() for op in v.ops], ensure_ascii=False, separators=(",", ":"))
                    variants.append((query_id, idx, v.text, ops, v.levenshtein, v.damerau, outcome.seed))
            _write(store, set_id, inv.id, variants, skips)
            result.added_variants += len(variants)
            result.added_skips += len(skips)
            if on_progress:
                on_progress(min(BATCH, len(pending) - start))
        with store.read() as conn:
            result.by_lang, result.skip_reasons = summarise(conn, plan, set_id)
        inv.summary = {"variant_set": set_name, "added_variants": result.added_variants, "added_skips": result.added_skips,
                       "skip_reasons": result.skip_reasons}
    return result

