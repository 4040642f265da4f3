"""The one place a system's name becomes its eval runs (``inspect``, ``report --compare``).

A system is an index name or ``INDEX@REWRITE`` / ``INDEX ⟲ REWRITE`` (the runs of that index over
that rewrite run's queries), parsed by :class:`xlcli.eval.systems.SystemSpec` — the one parser of
system names. Fused systems plug in here too: whatever a name means, callers only see
:class:`SystemRuns`. Runs of a plain index exclude rewritten ones, so the two never mix.
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
    index_id: int
    dataset_id: int
    runs: tuple[data.Run, ...]   # the latest run per (language, split, condition)
    rewrite_run_id: int | None = None


def has_table(conn: Connection, table: str) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).first() is not None


def names(conn: Connection, dataset_id: int | None = None) -> list[str]:
    """Every system with eval runs (of one dataset, or all), typed as ``INDEX`` or ``INDEX@REWRITE``."""
    sql = ("SELECT DISTINCT i.name, r.name FROM eval_runs e JOIN indexes i ON i.id = e.index_id"
           " LEFT JOIN rewrite_runs r ON r.id = e.rewrite_run_id"
           + (" WHERE e.dataset_id = :d" if dataset_id is not None else "") + " ORDER BY i.id, e.rewrite_run_id IS NOT NULL, r.id")
    return [SystemSpec(index, rw).name for index, rw in conn.execute(text(sql), {"d": dataset_id})]


def resolve(conn: Connection, name: str, dataset_id: int | None = None) -> SystemRuns:
    """The eval runs of system ``name`` (parsed by :class:`SystemSpec`), or one line listing the systems there are."""
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
    latest: dict[tuple, data.Run] = {}
    for row in conn.execute(text(f"SELECT * FROM eval_runs WHERE {' AND '.join(where)} ORDER BY id"), params).mappings():
        run = data.Run.of(row)
        latest[(run.lang, run.split, run.condition)] = run
    if not latest:
        how = f"--index {spec.index} --rewrite {spec.rewrite}" if spec.rewrite else f"--index {spec.index}"
        raise XlcliError(f"system {name!r} has no eval runs: run `xlcli eval {how}` first")
    return SystemRuns(spec.name, index.id, index.dataset_id, tuple(sorted(latest.values(), key=lambda r: r.id)), rewrite_id)
