"""TREC files from stored eval runs (``eval --trec-out``).

``qid Q0 docno rank score tag``, ranks from 1, higher score better, ties in trec_eval's order (see
:mod:`xlcli.search`), with a matching qrels file, so that ir_measures on the files gives the
stored values. A variant's qid is its query's ext id and ``#`` its index in the set.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.eval.systems import SystemSpec


def check_trec_dir(path: Path) -> None:
    """Refuse a ``--trec-out`` that is a file or whose parent is missing, before any work."""
    if path.exists() and not path.is_dir():
        raise XlcliError(f"--trec-out {path}: is a file, expected a directory")
    if not path.exists() and not path.parent.exists():
        raise XlcliError(f"--trec-out {path}: its parent directory {path.parent} does not exist")
    try:  # made now, before any run is stored, so that a folder that cannot be written is refused first
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise XlcliError(f"--trec-out {path}: cannot create it ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise XlcliError(f"--trec-out {path}: the directory is not writable")


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@+" else "_" for c in value)


def write_trec(conn: Connection, run_id: int, directory: Path) -> tuple[Path, Path]:
    """Write ``<system>.<lang>.<condition>.run`` and its ``.qrels`` from a stored eval run.

    ``<system>`` is the index name, ``INDEX@REWRITE`` for a run over rewritten queries (also the
    run's tag), so a direct and a translate-test run of one index never overwrite each other, or
    the fusion's name for a fused system.
    """
    run = conn.execute(
        text("SELECT r.*, coalesce(i.name, f.name) AS index_name, w.name AS rewrite_name FROM eval_runs r"
             " LEFT JOIN indexes i ON i.id = r.index_id LEFT JOIN fusion_runs f ON f.id = r.fusion_run_id"
             " LEFT JOIN rewrite_runs w ON w.id = r.rewrite_run_id WHERE r.id = :r"), {"r": run_id}
    ).mappings().one()
    directory.mkdir(parents=True, exist_ok=True)
    system = SystemSpec(run["index_name"], run["rewrite_name"]).name
    stem = f"{_safe(system)}.{run['lang']}.{_safe(run['condition'])}"
    variant_idx = dict(conn.execute(
        text("SELECT v.id, v.idx FROM query_variants v WHERE v.variant_set_id = :vs"), {"vs": run["variant_set_id"]}
    ).all()) if run["variant_set_id"] is not None else {}

    def qid(ext_id: str, variant_id: int) -> str:
        return ext_id if variant_id == 0 else f"{ext_id}#{variant_idx[variant_id]}"

    run_lines = []
    for q_ext, vid, rank, d_ext, score in conn.execute(text(
        "SELECT q.ext_id, r.variant_id, r.rank, p.ext_id, r.score FROM eval_rankings r"
        " JOIN queries q ON q.id = r.query_id JOIN passages p ON p.id = r.passage_id"
        " WHERE r.eval_run_id = :r ORDER BY r.query_id, r.variant_id, r.rank"), {"r": run_id}):
        _no_space(q_ext, d_ext)
        # repr() round-trips a float exactly: the file keeps ties as ties and order as order.
        run_lines.append(f"{qid(q_ext, vid)} Q0 {d_ext} {rank} {float(score)!r} {system}\n")
    qrel_lines = []
    for q_ext, vid, d_ext, rel in conn.execute(text(
        "SELECT q.ext_id, m.variant_id, p.ext_id, j.relevance FROM"
        " (SELECT DISTINCT query_id, variant_id FROM eval_measures WHERE eval_run_id = :r AND (variant_id > 0 OR :clean)) m"
        " JOIN queries q ON q.id = m.query_id JOIN qrels j ON j.query_id = m.query_id JOIN passages p ON p.id = j.passage_id"
        " ORDER BY m.query_id, m.variant_id, p.ext_id"), {"r": run_id, "clean": run["variant_set_id"] is None}):
        _no_space(q_ext, d_ext)
        qrel_lines.append(f"{qid(q_ext, vid)} 0 {d_ext} {rel}\n")
    run_path, qrels_path = directory / f"{stem}.run", directory / f"{stem}.qrels"
    run_path.write_text("".join(run_lines), encoding="utf-8")
    qrels_path.write_text("".join(qrel_lines), encoding="utf-8")
    return run_path, qrels_path


def write_all(conn: Connection, run_ids: list[int], directory: Path) -> None:
    """:func:`write_trec` for each run."""
    for run_id in run_ids:
        write_trec(conn, run_id, directory)


def _no_space(*ids: str) -> None:
    for value in ids:
        if any(c.isspace() for c in value):
            raise XlcliError(f"--trec-out: id {value!r} contains whitespace, which the TREC format cannot hold")
