"""The one place a system's name becomes its eval runs (``inspect``, ``report --compare``).

A system is, today, an index name; with query rewrites it is ``INDEX@REWRITE`` (the runs of that
index over that rewrite run's queries). Fused systems plug in here too: whatever a name means,
callers only see :class:`SystemRuns`. Runs of a plain index exclude rewritten ones when the store
has the ``eval_runs.rewrite_run_id`` column (added by the rewrite step), so the two never mix.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.report import data

REWRITE_SEPARATOR = "@"


@dataclass(frozen=True)
class SystemRuns:
    name: str
    index_id: int
    dataset_id: int
    runs: tuple[data.Run, ...]   # the latest run per (language, split, condition)


def _columns(conn: Connection, table: str) -> set[str]:
    return {r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")}


def has_table(conn: Connection, table: str) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).first() is not None


def names(conn: Connection, dataset_id: int | None = None) -> list[str]:
    """Every system with eval runs (of one dataset, or all), for help texts and errors."""
    rewrite = "rewrite_run_id" in _columns(conn, "eval_runs")
    sql = ("SELECT DISTINCT i.name" + (", r.name" if rewrite else ", NULL") + " FROM eval_runs e JOIN indexes i ON i.id = e.index_id"
           + (" LEFT JOIN rewrite_runs r ON r.id = e.rewrite_run_id" if rewrite else "")
           + (" WHERE e.dataset_id = :d" if dataset_id is not None else "") + " ORDER BY i.id")
    return [index if rw is None else f"{index}{REWRITE_SEPARATOR}{rw}" for index, rw in conn.execute(text(sql), {"d": dataset_id})]


def resolve(conn: Connection, name: str, dataset_id: int | None = None) -> SystemRuns:
    """The eval runs of system ``name``, or a one-line error listing the systems there are."""
    index_name, _, rewrite = name.partition(REWRITE_SEPARATOR)
    index = conn.execute(text("SELECT id, dataset_id FROM indexes WHERE name = :n"), {"n": index_name}).first()
    if index is None:
        raise XlcliError(f"no system {name!r} (systems with eval runs: {', '.join(names(conn, dataset_id)) or 'none yet'})")
    where, params = ["index_id = :i"], {"i": index.id}
    if "rewrite_run_id" in _columns(conn, "eval_runs"):
        if rewrite:
            rewrite_id = conn.execute(text("SELECT id FROM rewrite_runs WHERE name = :n"), {"n": rewrite}).scalar()
            if rewrite_id is None:
                raise XlcliError(f"system {name!r}: no rewrite run {rewrite!r}")
            where.append("rewrite_run_id = :rw")
            params["rw"] = rewrite_id
        else:
            where.append("rewrite_run_id IS NULL")
    elif rewrite:
        raise XlcliError(f"system {name!r}: this store has no query rewrites")
    latest: dict[tuple, data.Run] = {}
    for row in conn.execute(text(f"SELECT * FROM eval_runs WHERE {' AND '.join(where)} ORDER BY id"), params).mappings():
        run = data.Run(row["id"], row["index_id"], row["lang"], row["split"], row["condition"], row["variant_set_id"],
                       tuple(row["measures"].split()))
        latest[(run.lang, run.split, run.condition)] = run
    if not latest:
        raise XlcliError(f"system {name!r} has no eval runs: run `xlcli eval --index {index_name}` first")
    return SystemRuns(name, index.id, index.dataset_id, tuple(sorted(latest.values(), key=lambda r: r.id)))
