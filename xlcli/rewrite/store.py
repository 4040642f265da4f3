"""Rewrite runs and rewritten queries in the store: finding, writing, reading back.

A rewrite run (table ``rewrite_runs``) is one (dataset, backend, target language, languages,
split, variant sets, dictionaries or model, options); its rows (``query_rewrites``) are keyed by
(run, query, variant) with variant 0 = the clean query. Rows are written in batches, one
transaction each, and a re-run skips the (query, variant) pairs that have rows — so a run killed
half-way and re-run ends with the same rows as an uninterrupted one.

What evaluation needs (public API): :func:`find_run` / :func:`get_run` (a run by name, with the
languages, split and variant sets it covers: :class:`RewriteRun`), :func:`texts` (the rewritten
text of each (query_id, variant_id) of a run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.store.invocations import canonical_json, now


@dataclass(frozen=True)
class RewriteRun:
    id: int
    name: str
    dataset_id: int
    backend: str
    target_lang: str  # a language code, or "source" for spell (each query stays in its language)
    key: str
    params: dict
    invocation_id: int

    @property
    def langs(self) -> list[str]:
        return list(self.params.get("langs", []))

    @property
    def split(self) -> str | None:
        return self.params.get("split")

    @property
    def variant_sets(self) -> list[str]:
        """Names of the variant sets whose variants were rewritten (besides the clean queries)."""
        return list(self.params.get("variant_sets", []))

    def covers(self, lang: str, condition: str = "clean", split: str | None = None) -> bool:
        """Whether the run rewrote ``lang`` queries of ``split`` under ``condition`` ('clean' or a variant set)."""
        if lang not in self.langs or (self.split is not None and split != self.split):
            return False
        return condition == "clean" or condition in self.variant_sets


def _run(row) -> RewriteRun:
    return RewriteRun(row["id"], row["name"], row["dataset_id"], row["backend"], row["target_lang"], row["key"],
                      json.loads(row["params_json"]), row["invocation_id"])


def find_run(conn: Connection, name: str) -> RewriteRun | None:
    row = conn.execute(text("SELECT * FROM rewrite_runs WHERE name = :n"), {"n": name}).mappings().first()
    return None if row is None else _run(row)


def list_runs(conn: Connection, dataset_id: int | None = None) -> list[RewriteRun]:
    sql = "SELECT * FROM rewrite_runs" + (" WHERE dataset_id = :d" if dataset_id is not None else "") + " ORDER BY id"
    return [_run(r) for r in conn.execute(text(sql), {"d": dataset_id}).mappings()]


def get_run(conn: Connection, name: str, *, dataset_id: int | None = None, where: str = "--rewrite") -> RewriteRun:
    """The run called ``name`` (of ``dataset_id`` when given), or a one-line error listing the known ones."""
    run = find_run(conn, name)
    if run is None or (dataset_id is not None and run.dataset_id != dataset_id):
        known = ", ".join(r.name for r in list_runs(conn, dataset_id)) or "none yet; run `xlcli rewrite` first"
        raise XlcliError(f"{where} {name}: no such rewrite run (rewrite runs: {known})")
    return run


def texts(conn: Connection, run_id: int, query_ids: Iterable[int] | None = None) -> dict[tuple[int, int], str]:
    """{(query_id, variant_id): rewritten text} of a run (variant_id 0 = the clean query)."""
    sql = "SELECT query_id, variant_id, text FROM query_rewrites WHERE rewrite_run_id = :r"
    rows = conn.execute(text(sql), {"r": run_id}).all()
    if query_ids is not None:
        wanted = set(query_ids)
        rows = [r for r in rows if r.query_id in wanted]
    return {(r.query_id, r.variant_id): r.text for r in rows}


def check_name(conn: Connection, name: str, key: str, dataset_id: int) -> RewriteRun | None:
    """The existing run of that name when it has the same parameters; an error when they differ."""
    if not name.strip():
        raise XlcliError("--name: give a non-empty name")
    run = find_run(conn, name)
    if run is not None and (run.key != key or run.dataset_id != dataset_id):
        raise XlcliError(
            f"--name {name}: a rewrite run with that name already exists with other parameters"
            " (see `xlcli sql \"SELECT name, backend, params_json FROM rewrite_runs\"`); choose another --name"
        )
    return run


def ensure_run(conn: Connection, *, name: str, dataset_id: int, backend: str, target: str, params: dict, key: str,
               invocation_id: int) -> int:
    row = conn.execute(text("SELECT id FROM rewrite_runs WHERE name = :n"), {"n": name}).first()
    if row is not None:
        return row.id
    return conn.execute(
        text("INSERT INTO rewrite_runs (dataset_id, name, backend, target_lang, params_json, key, created_at, invocation_id)"
             " VALUES (:d, :n, :b, :t, :p, :k, :c, :i) RETURNING id"),
        {"d": dataset_id, "n": name, "b": backend, "t": target, "p": canonical_json(params), "k": key, "c": now(),
         "i": invocation_id},
    ).scalar_one()


def done_items(conn: Connection, run_id: int) -> set[tuple[int, int]]:
    return set(map(tuple, conn.execute(
        text("SELECT query_id, variant_id FROM query_rewrites WHERE rewrite_run_id = :r"), {"r": run_id}).all()))


def write_rows(conn: Connection, run_id: int, invocation_id: int, rows: Sequence[tuple]) -> None:
    """``rows``: (query_id, variant_id, text, operations_json, unknown); the caller holds the transaction."""
    if rows:
        conn.exec_driver_sql(
            "INSERT INTO query_rewrites (rewrite_run_id, query_id, variant_id, text, operations_json, unknown, invocation_id)"
            f" VALUES ({int(run_id)}, ?, ?, ?, ?, ?, {int(invocation_id)})",
            list(rows),
        )


def summary(conn: Connection, run_id: int) -> dict:
    """Per language: clean/variant rows, words, unknown words; per step of the cascade: words."""
    by_lang = {}
    for r in conn.execute(text(
        "SELECT q.lang, sum(r.variant_id = 0) AS clean, sum(r.variant_id != 0) AS variants, sum(r.unknown) AS unknown,"
        " sum(json_array_length(r.operations_json)) AS words, sum(r.unknown > 0) AS with_unknown"
        " FROM query_rewrites r JOIN queries q ON q.id = r.query_id WHERE r.rewrite_run_id = :r GROUP BY q.lang ORDER BY q.lang"),
        {"r": run_id}).mappings():
        by_lang[r["lang"]] = {"clean": r["clean"], "variants": r["variants"], "words": r["words"] or 0,
                              "unknown": r["unknown"], "texts_with_unknown": r["with_unknown"]}
    steps: dict[str, dict[str, int]] = {}
    for r in conn.execute(text(
        "SELECT q.lang, json_extract(j.value, '$.step') AS step, count(*) AS n"
        " FROM query_rewrites r JOIN queries q ON q.id = r.query_id, json_each(r.operations_json) j"
        " WHERE r.rewrite_run_id = :r GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"), {"r": run_id}).all():
        steps.setdefault(r.lang, {})[r.step] = r.n
    for lang, counts in steps.items():
        by_lang.setdefault(lang, {})["steps"] = counts
    return by_lang
