"""The one place a system's name becomes its eval runs (``inspect``, ``report --compare``, ``fuse``).

A system is an index name, ``INDEX@REWRITE`` / ``INDEX ⟲ REWRITE`` (the runs of that index over that
rewrite run's queries), parsed by :class:`xlcli.eval.systems.SystemSpec` — the one parser of system
names — or the name of a fusion (``xlcli fuse --name``: eval runs with ``fusion_run_id`` set and no
index). Whatever a name means, callers only see :class:`SystemRuns`. Runs of a plain index exclude
rewritten ones, so the two never mix. Fusion names never equal an index name (``fuse`` refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.eval.systems import SystemSpec
from xlcli.report import data


@dataclass(frozen=True)
class SystemRuns:
    name: str
    index_id: int | None          # None for a fused system
    dataset_id: int
    runs: tuple[data.Run, ...]   # the latest run per (language, split, condition)
    rewrite_run_id: int | None = None
    fusion_run_id: int | None = None

    @property
    def kind(self) -> str:
        return "fusion" if self.fusion_run_id is not None else ("rewrite" if self.rewrite_run_id is not None else "index")

    @property
    def spec(self) -> SystemSpec | None:
        """The index (and rewrite) behind the name; None for a fused system."""
        return None if self.kind == "fusion" else SystemSpec.parse(self.name)


def has_table(conn: Connection, table: str) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).first() is not None


def names(conn: Connection, dataset_id: int | None = None) -> list[str]:
    """Every system with eval runs (of one dataset, or all), typed as ``INDEX``, ``INDEX@REWRITE`` or a fusion's name."""
    where = " WHERE e.dataset_id = :d" if dataset_id is not None else ""
    sql = ("SELECT DISTINCT i.name, r.name FROM eval_runs e JOIN indexes i ON i.id = e.index_id"
           " LEFT JOIN rewrite_runs r ON r.id = e.rewrite_run_id" + where + " ORDER BY i.id, e.rewrite_run_id IS NOT NULL, r.id")
    found = [SystemSpec(index, rw).name for index, rw in conn.execute(text(sql), {"d": dataset_id})]
    found += [n for (n,) in conn.execute(text(
        "SELECT f.name FROM fusion_runs f WHERE EXISTS (SELECT 1 FROM eval_runs e WHERE e.fusion_run_id = f.id)"
        + (" AND f.dataset_id = :d" if dataset_id is not None else "") + " ORDER BY f.id"), {"d": dataset_id})]
    return found


def resolve(conn: Connection, name: str, dataset_id: int | None = None, min_depth: int = 1) -> SystemRuns:
    """The eval runs of system ``name`` (of depth ≥ ``min_depth``), or a one-line error saying what to run."""
    fusion = conn.execute(text("SELECT id, dataset_id FROM fusion_runs WHERE name = :n"), {"n": name.strip()}).first()
    if fusion is not None:
        latest = _latest(conn, "fusion_run_id = :f", {"f": fusion.id}, min_depth)
        if not latest:
            raise XlcliError(f"system {name!r} has no fused runs{_deep(min_depth)}: re-run its `xlcli fuse --name {name} ...`")
        return SystemRuns(name.strip(), None, fusion.dataset_id, latest, fusion_run_id=fusion.id)
    spec = SystemSpec.parse(name)
    index = conn.execute(text("SELECT id, dataset_id FROM indexes WHERE name = :n"), {"n": spec.index}).first()
    if index is None:
        raise XlcliError(f"no system {name!r} (systems with eval runs: {', '.join(names(conn, dataset_id)) or 'none yet'})")
    where, params = ["index_id = :i"], {"i": index.id}
    rewrite_id = None
    if spec.rewrite:
        rewrite_id = conn.execute(text("SELECT id FROM rewrite_runs WHERE name = :n"), {"n": spec.rewrite}).scalar()
        if rewrite_id is None:
            raise XlcliError(f"system {name!r}: no rewrite run {spec.rewrite!r} (systems with eval runs: "
                             f"{', '.join(names(conn, dataset_id)) or 'none yet'})")
        where.append("rewrite_run_id = :rw")
        params["rw"] = rewrite_id
    else:
        where.append("rewrite_run_id IS NULL")
    latest = _latest(conn, " AND ".join(where), params, min_depth)
    if not latest:
        how = f"--index {spec.index} --rewrite {spec.rewrite}" if spec.rewrite else f"--index {spec.index}"
        depth = f" --depth {min_depth}" if min_depth > 1 else ""
        raise XlcliError(f"system {name!r} has no eval runs{_deep(min_depth)}: run `xlcli eval {how}{depth}` first")
    return SystemRuns(spec.name, index.id, index.dataset_id, latest, rewrite_run_id=rewrite_id)


def _deep(min_depth: int) -> str:
    return f" of depth ≥ {min_depth}" if min_depth > 1 else ""


def _latest(conn: Connection, where: str, params: dict, min_depth: int) -> tuple[data.Run, ...]:
    latest: dict[tuple, data.Run] = {}
    for row in conn.execute(text(f"SELECT * FROM eval_runs WHERE {where} AND depth >= :depth ORDER BY id"),
                            {**params, "depth": min_depth}).mappings():
        run = data.Run.of(row)
        latest[(run.lang, run.split, run.condition)] = run
    return tuple(sorted(latest.values(), key=lambda r: r.id))
