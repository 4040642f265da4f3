"""The input systems of a fusion: their stored eval runs per (language, condition), and rankings.

Inputs are named as everywhere else (:mod:`xlcli.report.system_runs`): an index, ``INDEX@REWRITE``,
or another fusion. For each input the latest eval run per (language, split, condition) whose depth
is at least the fusion depth is used; a fused condition is one that every input has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli import languages
from xlcli.errors import XlcliError
from xlcli.eval.systems import REWRITE_LABEL, SystemSpec
from xlcli.report import data, system_runs
from xlcli.report.system_runs import SystemRuns

Ranking = list[tuple[str, float]]  # (passage ext id, score), in stored rank order


@dataclass(frozen=True)
class Condition:
    lang: str
    condition: str
    variant_set_id: int | None
    runs: tuple[data.Run, ...]  # one per input, in input order


def _name(part: str) -> str:
    """A system's name as the resolver knows it: ``INDEX ⟲ REWRITE`` (how reports print it) → ``INDEX@REWRITE``."""
    if REWRITE_LABEL.strip() not in part:
        return part.strip()
    return SystemSpec.parse(part).name


def parse_names(value: str) -> list[str]:
    """``"a,b@rw,c ⟲ rw"`` → names in order; at least two distinct ones."""
    found = list(dict.fromkeys(_name(part) for part in value.split(",") if part.strip()))
    if len(found) < 2:
        raise XlcliError(f"--systems {value!r}: give at least two distinct systems, comma-separated")
    return found


def resolve(conn: Connection, names: Sequence[str], depth: int) -> list[SystemRuns]:
    """Each named system with its runs of depth ≥ ``depth``; all of one dataset."""
    found = [system_runs.resolve(conn, name, min_depth=depth) for name in names]
    datasets = {s.dataset_id for s in found}
    if len(datasets) > 1:
        by = ", ".join(f"{s.name}: {_dataset_name(conn, s.dataset_id)}" for s in found)
        raise XlcliError(f"--systems: these systems are on different datasets ({by}); fuse systems of one dataset")
    return found


def _dataset_name(conn: Connection, dataset_id: int) -> str:
    return conn.execute(text("SELECT name FROM datasets WHERE id = :i"), {"i": dataset_id}).scalar_one()


def conditions(inputs: Sequence[SystemRuns], split: str, langs: str | None, depth: int) -> list[Condition]:
    """The (language, condition) pairs of ``split`` every input has, in the first input's order."""
    by_input = [{(r.lang, r.condition): r for r in s.runs if r.split == split} for s in inputs]
    for s, runs in zip(inputs, by_input):
        if not runs:
            raise XlcliError(f"system {s.name!r} has no eval runs of split {split!r}{_deep(depth)}: {_fix(s, split, depth)}")
    shared = [key for key in by_input[0] if all(key in runs for runs in by_input[1:])]
    if langs is not None:
        wanted = languages.parse_list(langs, where="--langs")
        for lang in wanted:
            for s, runs in zip(inputs, by_input):
                if not any(lg == lang for lg, _ in runs):
                    raise XlcliError(f"--langs {lang}: system {s.name!r} has no {lang} runs of split {split!r}{_deep(depth)}: "
                                     f"{_fix(s, split, depth, lang)}")
        shared = [key for key in shared if key[0] in wanted]
    if not shared:
        have = "; ".join(f"{s.name}: {', '.join(f'{lg}/{c}' for lg, c in runs)}" for s, runs in zip(inputs, by_input))
        raise XlcliError(f"--systems: no (language, condition) is shared by every system in split {split!r} ({have})")
    result = []
    for key in shared:
        runs = tuple(r[key] for r in by_input)
        variant_sets = {r.variant_set_id for r in runs}
        if len(variant_sets) > 1:
            raise XlcliError(f"{key[0]}/{key[1]}: the systems were evaluated on different variant sets of that name; re-run eval")
        result.append(Condition(key[0], key[1], runs[0].variant_set_id, runs))
    return result


def _deep(depth: int) -> str:
    return f" of depth ≥ {depth}" if depth > 1 else ""


def _fix(s: SystemRuns, split: str, depth: int, lang: str | None = None) -> str:
    if s.kind == "fusion":
        return f"re-run `xlcli fuse --name {s.name} --split {split}` first"
    spec = s.spec
    parts = [f"xlcli eval --index {spec.index}"] + ([f"--rewrite {spec.rewrite}"] if spec.rewrite else []) + [f"--split {split}"]
    parts += [f"--langs {lang}"] if lang else []
    parts += [f"--depth {depth}"] if depth > 1 else []
    return f"run `{' '.join(parts)}` first"


def rankings(conn: Connection, run_id: int, depth: int) -> dict[tuple[int, int], Ranking]:
    """(query id, variant id) → the stored top-``depth`` ranking of an eval run, by passage ext id."""
    found: dict[tuple[int, int], Ranking] = defaultdict(list)
    for qid, vid, ext, score in conn.execute(text(
        "SELECT r.query_id, r.variant_id, p.ext_id, r.score FROM eval_rankings r JOIN passages p ON p.id = r.passage_id"
        " WHERE r.eval_run_id = :r AND r.rank <= :k ORDER BY r.query_id, r.variant_id, r.rank"), {"r": run_id, "k": depth}):
        found[(qid, vid)].append((ext, score))
    return dict(found)


def measured_keys(conn: Connection, run: data.Run) -> set[tuple[int, int]]:
    """The (query id, variant id) an eval run measured (variant id 0 for clean queries)."""
    clean = run.variant_set_id is None
    return set(conn.execute(text(
        "SELECT DISTINCT query_id, variant_id FROM eval_measures WHERE eval_run_id = :r AND (variant_id > 0) <> :clean"),
        {"r": run.id, "clean": clean}).all())
