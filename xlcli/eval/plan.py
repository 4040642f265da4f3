"""Validating an ``eval`` request against the store: everything the user typed, before any write."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from xlcli import languages, metrics
from xlcli.errors import XlcliError
from xlcli.eval import rewritten
from xlcli.eval.systems import SystemSpec
from xlcli.rewrite.store import RewriteRun
from xlcli.store.catalog import require_complete, resolve_index

DEFAULT_DEPTH = 100


@dataclass
class Plan:
    systems: list[SystemSpec]
    indexes: list[dict]  # the index row of each system, in the same order
    dataset: dict
    split: str
    translator: str
    langs: list[str]
    variant_sets: list[dict]
    measures: list[metrics.Measure]
    depth: int
    rewrites: list[RewriteRun | None] = field(default_factory=list)  # each system's rewrite run, or None

    def systems_with_rows(self):
        """(spec, index row, rewrite run or None) per system, in order."""
        rewrites = self.rewrites or [None] * len(self.systems)
        return list(zip(self.systems, self.indexes, rewrites))


def _index_rows(conn: Connection, systems: Sequence[SystemSpec]) -> list[dict]:
    """The index row of each system; every index must exist and be complete."""
    rows = [dict(resolve_index(conn, spec.index)) for spec in systems]
    for row in rows:
        require_complete(conn, row)
    return rows


def plan(
    conn: Connection, systems: Sequence[SystemSpec], *, dataset: str | None, langs: str | None, split: str,
    variants: str, measures: str, depth: int, translator: str = "",
) -> Plan:
    if not systems:
        raise XlcliError("--index: give at least one index name")
    specs = list(dict.fromkeys(systems))
    rows = _index_rows(conn, specs)
    dataset_ids = {r["dataset_id"] for r in rows}
    if len(dataset_ids) > 1:
        raise XlcliError("--index: these indexes are built on different datasets; evaluate them separately")
    ds = dict(conn.execute(text("SELECT * FROM datasets WHERE id = :i"), {"i": dataset_ids.pop()}).mappings().one())
    if dataset is not None and dataset != ds["name"]:
        raise XlcliError(f"--dataset {dataset}: index {rows[0]['name']!r} was built on dataset {ds['name']!r}")

    n_qrels = conn.execute(
        text("SELECT count(*) FROM qrels r JOIN queries q ON q.id = r.query_id WHERE q.dataset_id = :d"), {"d": ds["id"]}
    ).scalar()
    if not n_qrels:
        raise XlcliError(f"dataset {ds['name']!r} has no qrels (relevance judgements), so it cannot be evaluated")

    available = dict(conn.execute(
        text("SELECT lang, count(*) FROM queries WHERE dataset_id = :d AND split = :s AND translator = :t GROUP BY lang"),
        {"d": ds["id"], "s": split, "t": translator},
    ).all())
    if not available:
        splits = [s for (s,) in conn.execute(text("SELECT DISTINCT split FROM queries WHERE dataset_id = :d ORDER BY 1"), {"d": ds["id"]})]
        who = f" translated by {translator!r}" if translator else ""
        raise XlcliError(f"--split {split}: dataset {ds['name']!r} has no queries{who} in that split (splits: {', '.join(splits) or 'none'})")
    if langs is None:
        chosen = sorted(available, key=lambda lang: (lang != ds["lang"], lang))
    else:
        chosen = languages.parse_list(langs, where="--langs")
        for lang in chosen:
            if lang not in available:
                raise XlcliError(
                    f"--langs: dataset {ds['name']!r} has no {lang} queries in split {split!r} "
                    f"(languages: {', '.join(sorted(available))}); ingest translations first"
                )

    chosen_sets = _variant_sets(conn, ds, variants)
    parsed = metrics.parse_many(measures)
    if depth < 1:
        raise XlcliError(f"--depth {depth}: must be at least 1")
    deepest = max((m.cutoff for m in parsed if m.cutoff is not None), default=0)
    # A ranking holds at most the passages indexed: a deeper cutoff than that is no loss.
    largest = max(conn.execute(text("SELECT count(*) FROM index_entries WHERE index_id = :i"), {"i": r["id"]}).scalar() for r in rows)
    if depth < min(deepest, largest):
        raise XlcliError(f"--depth {depth} is below the largest cutoff ({deepest}) of --measures; raise --depth")
    runs = {name: rewritten.resolve(conn, name, ds) for name in dict.fromkeys(s.rewrite for s in specs if s.rewrite)}
    for run in runs.values():
        rewritten.check_coverage(run, langs=chosen, langs_given=langs is not None, split=split,
                                 variant_sets=chosen_sets, variants_given=variants not in ("all", "none"))
    return Plan(specs, rows, ds, split, translator, chosen, chosen_sets, parsed, depth,
                [runs[s.rewrite] if s.rewrite else None for s in specs])


def _variant_sets(conn: Connection, ds: dict, variants: str) -> list[dict]:
    """The variant sets ``--variants`` names (``all``, ``none``, or names), each with its condition name."""
    sets = [dict(r) for r in conn.execute(
        text("SELECT id, name, key FROM variant_sets WHERE dataset_id = :d ORDER BY id"), {"d": ds["id"]}
    ).mappings()]
    names = defaultdict(int)
    for s in sets:
        names[s["name"]] += 1
    for s in sets:  # two sets with one name (e.g. two seeds) stay apart in eval_runs.condition
        s["condition"] = s["name"] if names[s["name"]] == 1 else f"{s['name']}#{s['id']}"
    if variants == "none":
        return []
    if variants == "all":
        return sets
    chosen_sets: list[dict] = []
    for wanted in [v.strip() for v in variants.split(",") if v.strip()]:
        found = [s for s in sets if wanted in (s["name"], s["condition"])]
        if not found:
            known = ", ".join(s["condition"] for s in sets) or "none yet: run `xlcli perturb`"
            raise XlcliError(f"--variants {wanted}: no such variant set for dataset {ds['name']!r} (variant sets: {known}; or all, none)")
        chosen_sets.extend(s for s in found if s not in chosen_sets)
    if not chosen_sets:
        raise XlcliError("--variants: give variant set names, all, or none")
    return chosen_sets
