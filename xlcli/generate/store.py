"""Generator runs and generated queries in the store: naming, resuming, writing.

A generator run is one (dataset, backend, model or lexicons, parameters, seed); its queries are
rows of ``generated_queries`` keyed by (run, passage, language, idx). Work is resumable per
(passage, language): the N queries of a pair are written in the same transaction, so a pair is
either complete or absent, and a re-run skips the pairs that have rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.store import Store
from xlcli.store.invocations import canonical_json, params_key


@dataclass(frozen=True)
class PassageRow:
    id: int
    ext_id: str
    lang: str
    title: str
    text: str


@dataclass(frozen=True)
class GeneratedRow:
    passage_id: int
    lang: str
    idx: int
    text: str
    metadata: dict


@dataclass
class RunSpec:
    """What defines a generator run; its ``key`` is a hash of everything except the name."""

    dataset_id: int
    dataset: str
    backend: str
    model: str | None
    langs: list[str]
    params: dict
    name: str = ""

    @property
    def identity(self) -> dict:
        return {"dataset": self.dataset, "backend": self.backend, "model": self.model, "langs": self.langs, **self.params}

    @property
    def key(self) -> str:
        return params_key(self.identity)


def _run_by_name(conn: Connection, name: str):
    return conn.execute(text("SELECT * FROM generator_runs WHERE name = :n"), {"n": name}).mappings().first()


def choose_name(conn: Connection, spec: RunSpec, requested: str | None, derived: str) -> str:
    """The run's name: ``requested`` (an error if another run holds it), else ``derived``.

    A derived name already held by a run with other parameters gets the key appended, so that
    changing e.g. ``--per-lang`` makes a new run instead of an error; re-running with the same
    parameters finds the same run (and resumes it).
    """
    if requested is not None:
        if not requested.strip():
            raise XlcliError("--name: give a non-empty name")
        row = _run_by_name(conn, requested)
        if row is not None and (row["key"] != spec.key or row["dataset_id"] != spec.dataset_id):
            raise XlcliError(
                f"--name {requested}: a generator run with that name already exists with other parameters"
                " (see `xlcli sql \"SELECT name, params_json FROM generator_runs\"`); choose another --name"
            )
        return requested
    for candidate in (derived, f"{derived}-{spec.key[:8]}"):
        row = _run_by_name(conn, candidate)
        if row is None or (row["key"] == spec.key and row["dataset_id"] == spec.dataset_id):
            return candidate
    raise XlcliError(f"generator run names {derived!r} and {derived}-{spec.key[:8]} are taken: choose one with --name")


def ensure_run(conn: Connection, spec: RunSpec, invocation_id: int) -> int:
    row = _run_by_name(conn, spec.name)
    if row is not None:
        return row["id"]
    return conn.execute(
        text(
            "INSERT INTO generator_runs (dataset_id, name, backend, model, params_json, key, invocation_id)"
            " VALUES (:d, :n, :b, :m, :p, :k, :i) RETURNING id"
        ),
        {"d": spec.dataset_id, "n": spec.name, "b": spec.backend, "m": spec.model,
         "p": canonical_json({"langs": spec.langs, **spec.params}), "k": spec.key, "i": invocation_id},
    ).scalar_one()


def load_passages(conn: Connection, dataset_id: int, *, limit: int | None = None) -> list[PassageRow]:
    sql = "SELECT id, ext_id, lang, COALESCE(title, '') AS title, text FROM passages WHERE dataset_id = :d ORDER BY id"
    if limit is not None:
        sql += " LIMIT :lim"
    rows = conn.execute(text(sql), {"d": dataset_id, "lim": limit}).all()
    return [PassageRow(r.id, r.ext_id, r.lang, r.title, r.text) for r in rows]


def done_pairs(conn: Connection, run_id: int) -> set[tuple[int, str]]:
    rows = conn.execute(
        text("SELECT DISTINCT passage_id, lang FROM generated_queries WHERE generator_run_id = :r"), {"r": run_id}
    ).all()
    return {(r.passage_id, r.lang) for r in rows}


def write_rows(store: Store, run_id: int, rows: Sequence[GeneratedRow], invocation_id: int) -> int:
    """Write one batch (whole (passage, language) pairs) in one transaction."""
    if not rows:
        return 0
    with store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO generated_queries (generator_run_id, passage_id, lang, idx, text, metadata_json, invocation_id)"
                " VALUES (:r, :p, :l, :x, :t, :m, :i)"
            ),
            [
                {"r": run_id, "p": row.passage_id, "l": row.lang, "x": row.idx, "t": row.text,
                 "m": json.dumps(row.metadata, ensure_ascii=False, sort_keys=True), "i": invocation_id}
                for row in rows
            ],
        )
    return len(rows)


def find_runs(conn: Connection, dataset_id: int, names: str | Iterable[str]) -> list[dict]:
    """Generator runs of a dataset by name (``"all"`` = every run of the dataset), checked."""
    if isinstance(names, str):
        wanted = [n.strip() for n in names.split(",") if n.strip()]
    else:
        wanted = list(names)
    if not wanted:
        raise XlcliError("--augment: name a generator run (or `all`)")
    rows = [dict(r) for r in conn.execute(
        text("SELECT g.*, d.name AS dataset FROM generator_runs g JOIN datasets d ON d.id = g.dataset_id ORDER BY g.id")
    ).mappings()]
    mine = [r for r in rows if r["dataset_id"] == dataset_id]
    if wanted == ["all"]:
        if not mine:
            raise XlcliError("--augment all: this dataset has no generator runs yet; run `xlcli generate queries` first")
        return mine
    found = []
    for name in wanted:
        row = next((r for r in rows if r["name"] == name), None)
        if row is None:
            known = ", ".join(r["name"] for r in mine) or "none yet"
            raise XlcliError(f"--augment {name}: no such generator run (runs of this dataset: {known})")
        if row["dataset_id"] != dataset_id:
            raise XlcliError(
                f"--augment {name}: that generator run belongs to dataset {row['dataset']!r}, not to the dataset being indexed"
            )
        found.append(row)
    return found


def run_langs(conn: Connection, run_ids: Sequence[int]) -> list[str]:
    if not run_ids:
        return []
    marks = ",".join(str(int(r)) for r in run_ids)
    return [r[0] for r in conn.exec_driver_sql(
        f"SELECT DISTINCT lang FROM generated_queries WHERE generator_run_id IN ({marks}) ORDER BY lang"
    ).all()]
