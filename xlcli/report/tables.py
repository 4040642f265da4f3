"""Build the report's numbers from stored per-query values.

Cells are means over queries of the query-level value (for a misspelled condition, each query's
value is already the mean over its variants). The drop compares a misspelled condition with the
clean one of the same system and language; the gain compares a system with the baseline on the
same queries, with a paired t-test whose p-values are Holm-adjusted across every comparison in
the table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection

from xlcli.errors import XlcliError
from xlcli.report import data
from xlcli.significance import PairedTest, holm, mark, paired_t_test

CLEAN = "clean"
CATEGORY_ORDER = ["multi-hop", "temporal", "open-domain", "single-hop", "adversarial"]


@dataclass
class Cell:
    mean: float
    n: int
    values: dict[int, float] = field(repr=False, default_factory=dict)


@dataclass
class Gain:
    test: PairedTest
    p_holm: float = math.nan

    @property
    def mark(self) -> str:
        return mark(self.p_holm)


@dataclass
class Report:
    measure: str
    systems: list[data.System]
    langs: list[str]
    conditions: list[str]
    baseline: data.System
    groups: list[str] = field(default_factory=lambda: [""])   # categories for --by category
    cells: dict[tuple, Cell] = field(default_factory=dict)     # (system key, lang, condition, group)
    gains: dict[tuple, Gain] = field(default_factory=dict)     # same key, systems other than the baseline

    def cell(self, system: data.System, lang: str, condition: str, group: str = "") -> Cell | None:
        return self.cells.get((system.key, lang, condition, group))

    def drop(self, system: data.System, lang: str, condition: str, group: str = "") -> tuple[float, float] | None:
        """(absolute, relative) change from clean to ``condition``; None when either is missing."""
        clean, noisy = self.cell(system, lang, CLEAN, group), self.cell(system, lang, condition, group)
        if clean is None or noisy is None or condition == CLEAN:
            return None
        absolute = noisy.mean - clean.mean
        return absolute, (absolute / clean.mean if clean.mean else math.nan)

    def records(self) -> list[dict]:
        """One flat record per (system, language, condition[, category]) for JSON/CSV."""
        out = []
        by_key = {s.key: s for s in self.systems}
        for (key, lang, condition, group), cell in self.cells.items():
            system = by_key[key]
            record = {
                "system": system.name, "model": system.model, "augmentation": system.augmentation,
                "training_run": system.training_run, "recipe": system.recipe, "leakage": system.leakage, "index": system.index,
                "rewrite": system.rewrite, "rewrite_description": system.rewrite_description or None, "lang": lang,
                "condition": condition, "measure": self.measure, "mean": cell.mean, "n": cell.n,
            }
            if group:
                record["category"] = group
            drop = self.drop(system, lang, condition, group)
            record["drop_abs"], record["drop_rel"] = drop if drop else (None, None)
            gain = self.gains.get((key, lang, condition, group))
            record["baseline"] = self.baseline.name
            if gain is not None:
                t = gain.test
                record.update({"diff": t.mean_diff, "ci95_low": t.ci_low, "ci95_high": t.ci_high, "p": t.p,
                               "p_holm": gain.p_holm, "effect_size_dz": t.effect_size, "n_paired": t.n})
            out.append({k: _finite(v) for k, v in record.items()})
        return out


def _finite(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def build(conn: Connection, dataset_id: int, *, measure: str = "R@10", baseline: str | None = None,
          invocation_ids: list[int] | None = None, by_category: bool = False, langs: list[str] | None = None) -> Report:
    runs = data.select_runs(conn, dataset_id, invocation_ids)
    if langs:
        runs = [r for r in runs if r.lang in langs]
        if not runs:
            raise XlcliError(f"no eval runs for languages {', '.join(langs)}")
    computed = sorted({m for r in runs for m in r.measures})
    if measure not in computed:
        raise XlcliError(f"measure {measure!r} was not computed by these eval runs (computed: {', '.join(computed)})")
    runs = [r for r in runs if measure in r.measures]
    systems = data.systems(conn, {r.system_key for r in runs})
    ordered_systems = sorted(systems.values(), key=data.order)
    if baseline is None:
        base = ordered_systems[0]
    else:
        matches = [s for s in ordered_systems if s.named(baseline)]
        if not matches:
            raise XlcliError(f"--baseline {baseline!r} is not a system in this report (systems: {', '.join(s.name for s in ordered_systems)})")
        base = matches[0]

    lang_order: list[str] = []
    condition_order: list[str] = [CLEAN] if any(r.condition == CLEAN for r in runs) else []
    for r in runs:
        if r.lang not in lang_order:
            lang_order.append(r.lang)
        if r.condition not in condition_order:
            condition_order.append(r.condition)

    values = data.per_query(conn, runs, measure)
    group_of: dict[int, str] = {}
    groups = [""]
    if by_category:
        group_of = data.categories(conn, {q for v in values.values() for q in v})
        if not group_of:
            raise XlcliError("--by category: these queries have no category (only LoCoMo has them)")
        present = set(group_of.values())
        groups = [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER))

    report = Report(measure, ordered_systems, lang_order, condition_order, base, groups)
    for run in runs:
        grouped: dict[str, dict[int, float]] = defaultdict(dict)
        for query_id, value in values[run.id].items():
            grouped[group_of.get(query_id, "") if by_category else ""][query_id] = value
        for group, per_query in grouped.items():
            if by_category and not group:
                continue
            report.cells[(run.system_key, run.lang, run.condition, group)] = Cell(
                float(np.mean(list(per_query.values()))) if per_query else math.nan, len(per_query), per_query)
    _compare(report)
    return report


def _compare(report: Report) -> None:
    keys = []
    for (key, lang, condition, group), cell in report.cells.items():
        if key == report.baseline.key:
            continue
        base = report.cells.get((report.baseline.key, lang, condition, group))
        if base is None:
            continue
        shared = sorted(set(cell.values) & set(base.values))
        test = paired_t_test(np.array([cell.values[q] for q in shared]), np.array([base.values[q] for q in shared]))
        report.gains[(key, lang, condition, group)] = Gain(test)
        keys.append((key, lang, condition, group))
    adjusted = holm([report.gains[k].test.p for k in keys])
    for key, p in zip(keys, adjusted):
        report.gains[key].p_holm = p


def degradation(conn: Connection, dataset_id: int, report: Report, invocation_ids: list[int] | None = None,
                max_bucket: int = 3) -> dict[str, dict[str, tuple[float, int]]]:
    """{system: {bucket: (mean, n)}}: the measure by Damerau distance of the variants (0 = clean)."""
    runs = [r for r in data.select_runs(conn, dataset_id, invocation_ids)
            if report.measure in r.measures and r.lang in report.langs]
    by_run = {r.id: r for r in runs}
    names = {s.key: s.name for s in report.systems}
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    clean_values = data.per_query(conn, [r for r in runs if r.condition == CLEAN], report.measure)
    for run_id, per_query in clean_values.items():
        sums[names[by_run[run_id].system_key]]["0"].extend(per_query.values())
    for run_id, distance, value in data.per_variant_by_distance(conn, runs, report.measure):
        bucket = str(distance) if distance < max_bucket else f"{max_bucket}+"
        sums[names[by_run[run_id].system_key]][bucket].append(value)
    order = [str(d) for d in range(max_bucket)] + [f"{max_bucket}+"]
    return {
        system: {b: (float(np.mean(buckets[b])), len(buckets[b])) for b in order if buckets.get(b)}
        for system, buckets in sums.items()
    }
