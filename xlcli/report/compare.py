"""``report --compare A,B``: per-query differences between two systems on the same queries.

Wins / ties / losses count the queries where B's value is above / equal to / below A's (the
per-query view behind a mean difference: two systems with equal means can trade many queries),
with the paired t-test of :mod:`xlcli.significance` over the same pairs, the queries with the
largest gains and losses, and the counts by LoCoMo category. A misspelled condition compares each
query's value as ``eval`` stored it (the mean over its variants).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.report import data, system_runs
from xlcli.report.tables import CATEGORY_ORDER, CLEAN
from xlcli.significance import paired_t_test
from xlcli.store.catalog import resolve_dataset

TYPO_PREFIX = "typo:"
TIE = 1e-12  # values computed the same way are equal exactly; this only absorbs float noise


@dataclass
class QueryDiff:
    query_id: int
    ext_id: str
    lang: str
    text: str
    category: str | None
    a: float
    b: float

    @property
    def diff(self) -> float:
        return self.b - self.a

    @property
    def outcome(self) -> str:
        return "tie" if abs(self.diff) <= TIE else ("win" if self.diff > 0 else "loss")

    def as_dict(self) -> dict:
        return {"ext_id": self.ext_id, "lang": self.lang, "category": self.category, "text": self.text,
                "a": self.a, "b": self.b, "diff": self.diff, "outcome": self.outcome}


@dataclass
class Comparison:
    dataset: str
    a: str
    b: str
    measure: str
    condition: str
    langs: list[str]
    queries: list[QueryDiff] = field(default_factory=list)   # sorted by diff, largest gain first
    worst: int = 10

    def counts(self, queries: list[QueryDiff] | None = None) -> dict[str, int]:
        outcomes = [q.outcome for q in (self.queries if queries is None else queries)]
        return {"wins": outcomes.count("win"), "ties": outcomes.count("tie"), "losses": outcomes.count("loss")}

    def by_category(self) -> list[dict]:
        groups: dict[str, list[QueryDiff]] = defaultdict(list)
        for q in self.queries:
            if q.category:
                groups[q.category].append(q)
        order = [c for c in CATEGORY_ORDER if c in groups] + sorted(set(groups) - set(CATEGORY_ORDER))
        return [{"category": c, "n": len(groups[c]), **self.counts(groups[c]), "mean_a": _mean(q.a for q in groups[c]),
                 "mean_b": _mean(q.b for q in groups[c])} for c in order]

    def gains(self) -> list[QueryDiff]:
        return [q for q in self.queries if q.outcome == "win"][: self.worst]

    def losses(self) -> list[QueryDiff]:
        return [q for q in reversed(self.queries) if q.outcome == "loss"][: self.worst]

    def as_dict(self) -> dict:
        test = paired_t_test(np.array([q.b for q in self.queries]), np.array([q.a for q in self.queries]))
        return {
            "dataset": self.dataset, "a": self.a, "b": self.b, "measure": self.measure, "condition": self.condition,
            "langs": self.langs, "n": len(self.queries), **self.counts(),
            "mean_a": _mean(q.a for q in self.queries), "mean_b": _mean(q.b for q in self.queries),
            "mean_diff": _finite(test.mean_diff), "p": _finite(test.p),
            "by_category": self.by_category(),
            "largest_gains": [q.as_dict() for q in self.gains()],
            "largest_losses": [q.as_dict() for q in self.losses()],
        }


def _mean(values) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def parse_condition(value: str) -> str:
    """``clean``, ``typo:NAME`` or a variant set's name → the condition as eval_runs stores it."""
    condition = value.strip()
    if condition.startswith(TYPO_PREFIX):
        condition = condition[len(TYPO_PREFIX):]
    if not condition:
        raise XlcliError(f"--condition {value!r}: give clean, typo:NAME or a variant set's name")
    return condition


def _pick(system: system_runs.SystemRuns, condition: str, langs: list[str] | None, measure: str) -> dict[tuple[str, str], data.Run]:
    runs = {(r.lang, r.split): r for r in system.runs if r.condition == condition and (langs is None or r.lang in langs)}
    if not runs:
        have = sorted({r.condition for r in system.runs})
        where = f" in {', '.join(langs)}" if langs else ""
        raise XlcliError(f"system {system.name!r} has no eval run for condition {condition!r}{where} (conditions: {', '.join(have)})")
    with_measure = {k: r for k, r in runs.items() if measure in r.measures}
    if not with_measure:
        computed = sorted({m for r in runs.values() for m in r.measures})
        raise XlcliError(f"measure {measure!r} was not computed for system {system.name!r} (computed: {', '.join(computed)})")
    return with_measure


def compare(conn: Connection, a: str, b: str, *, dataset: str | None = None, measure: str = "R@10",
            langs: list[str] | None = None, condition: str = CLEAN, worst: int = 10) -> Comparison:
    if worst < 1:
        raise XlcliError(f"--worst {worst}: must be at least 1")
    if a == b:
        raise XlcliError(f"--compare {a},{b}: give two different systems")
    first, second = system_runs.resolve(conn, a), system_runs.resolve(conn, b)
    if first.dataset_id != second.dataset_id:
        names = dict(conn.execute(text("SELECT id, name FROM datasets")).all())
        raise XlcliError(f"--compare: {a!r} was evaluated on dataset {names[first.dataset_id]!r} and {b!r} on "
                         f"{names[second.dataset_id]!r}; compare systems of one dataset")
    ds = resolve_dataset(conn, dataset) if dataset is not None else \
        conn.execute(text("SELECT * FROM datasets WHERE id = :i"), {"i": first.dataset_id}).mappings().one()
    if ds["id"] != first.dataset_id:
        raise XlcliError(f"--dataset {dataset}: systems {a!r} and {b!r} were evaluated on another dataset")
    runs_a, runs_b = _pick(first, condition, langs, measure), _pick(second, condition, langs, measure)
    shared_keys = sorted(set(runs_a) & set(runs_b))
    values = data.per_query(conn, [runs_a[k] for k in shared_keys] + [runs_b[k] for k in shared_keys], measure)
    pairs: list[tuple[int, float, float]] = []
    for key in shared_keys:
        va, vb = values[runs_a[key].id], values[runs_b[key].id]
        pairs.extend((qid, va[qid], vb[qid]) for qid in sorted(set(va) & set(vb)))
    if not pairs:
        raise XlcliError(f"--compare: no query was evaluated by both {a!r} and {b!r} under condition {condition!r}")
    info = _query_info(conn, [qid for qid, _, _ in pairs])
    queries = [QueryDiff(qid, *info[qid], va, vb) for qid, va, vb in pairs]
    queries.sort(key=lambda q: (-q.diff, q.ext_id, q.lang))
    return Comparison(ds["name"], a, b, measure, condition, sorted({lang for lang, _ in shared_keys}), queries, worst)


def _query_info(conn: Connection, ids: list[int]) -> dict[int, tuple[str, str, str, str | None]]:
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ",".join(map(str, ids[start : start + 500]))
        for qid, ext, lang, qtext, category in conn.execute(text(
            "SELECT id, ext_id, lang, text, json_extract(metadata_json, '$.category_name') FROM queries"
            f" WHERE id IN ({chunk})")):
            found[qid] = (ext, lang, qtext, category)
    return found


# ---------------------------------------------------------------------------------------------
# Rendering: rich, md, csv, json, latex (the formats of `report`).


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _summary_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    d = c.as_dict()
    header = ["", "n", "wins", "ties", "losses", f"{c.a}", f"{c.b}", "diff", "p"]
    rows = [["all", str(d["n"]), str(d["wins"]), str(d["ties"]), str(d["losses"]), _pct(d["mean_a"]), _pct(d["mean_b"]),
             "–" if d["mean_diff"] is None else f"{100 * d['mean_diff']:+.1f}", "–" if d["p"] is None else f"{d['p']:.3g}"]]
    for g in d["by_category"]:
        diff = g["mean_b"] - g["mean_a"]
        rows.append([g["category"], str(g["n"]), str(g["wins"]), str(g["ties"]), str(g["losses"]), _pct(g["mean_a"]),
                     _pct(g["mean_b"]), f"{100 * diff:+.1f}", ""])
    return header, rows


def _query_rows(queries: list[QueryDiff]) -> tuple[list[str], list[list[str]]]:
    header = ["query", "lang", "category", "text", "A", "B", "diff"]
    return header, [[q.ext_id, q.lang, q.category or "", q.text, _pct(q.a), _pct(q.b), f"{100 * q.diff:+.1f}"] for q in queries]


def caption(c: Comparison) -> str:
    return (f"{c.measure} ×100 per query, {c.b!r} (B) against {c.a!r} (A), condition {c.condition}, "
            f"{', '.join(c.langs)}: a win is a query where B > A; p of a paired t-test over the queries.")


def render(c: Comparison, fmt: str) -> str | Group:
    if fmt == "json":
        return json.dumps(c.as_dict(), ensure_ascii=False, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["ext_id", "lang", "category", "text", "a", "b", "diff", "outcome"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(q.as_dict() for q in c.queries)
        return buffer.getvalue()
    sections = [("summary", *_summary_rows(c)), ("largest gains of B", *_query_rows(c.gains())),
                ("largest losses of B", *_query_rows(c.losses()))]
    if fmt == "md":
        out = []
        for title, header, rows in sections:
            out += [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
            out.append("")
        return "\n".join(out) + "\n" + caption(c) + "\n"
    if fmt == "latex":
        return "".join(_latex(title, header, rows) for title, header, rows in sections) + f"% {caption(c)}\n"
    tables = []
    for title, header, rows in sections:
        table = Table(*header, title=title, title_justify="left")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        tables.append(table)
    return Group(*tables, Text(caption(c), style="dim"))


def _latex(title: str, header: list[str], rows: list[list[str]]) -> str:
    def esc(value: str) -> str:
        for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"), ("–", "--")):
            value = value.replace(a, b)
        return value

    lines = ["\\begin{table}", "\\centering", "\\begin{tabular}{" + "l" * 4 + "r" * (len(header) - 4) + "}", "\\toprule",
             " & ".join(esc(h) for h in header) + " \\\\", "\\midrule"]
    lines += [" & ".join(esc(cell) for cell in row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{esc(title)}}}", "\\end{table}", ""]
    return "\n".join(lines)
