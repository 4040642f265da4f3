"""Parallel-sentence datasets in the store: ingest them (``xlcli ingest parallel``) and load them for training.

The files are read by :mod:`xlcli.datasets.parallel`.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from xlcli.datasets.parallel import ParallelSentence
from xlcli.errors import XlcliError


def load(conn: Connection, names: list[str]) -> dict[str, list[ParallelSentence]]:
    """The stored sentences of each named parallel dataset (``xlcli ingest parallel``)."""
    found: dict[str, list[ParallelSentence]] = {}
    for name in names:
        row = conn.execute(text("SELECT id, kind FROM datasets WHERE name = :n"), {"n": name}).first()
        if row is None:
            known = [n for (n,) in conn.execute(text("SELECT name FROM datasets WHERE kind = 'parallel' ORDER BY name"))]
            raise XlcliError(
                f"--parallel {name}: no such parallel dataset (have: {', '.join(known) or 'none'}); "
                "add one with `xlcli ingest parallel SRC_FILE EN_FILE --lang xx --name NAME`"
            )
        if row.kind != "parallel":
            raise XlcliError(f"--parallel {name}: dataset {name!r} is a {row.kind} dataset, not a parallel one")
        rows = conn.execute(
            text("SELECT line, lang, text, en_text FROM parallel_sentences WHERE dataset_id = :d ORDER BY line"),
            {"d": row.id},
        ).all()
        found[name] = [ParallelSentence(r.line, r.lang, r.text, r.en_text) for r in rows]
    return found


def ingest(store, name: str, lang: str, sentences: list[ParallelSentence], params: dict, *, source: str, en_source: str) -> dict:
    """Store ``sentences`` as dataset ``name`` (kind 'parallel'); idempotent for the same files.

    Returns a summary; ``already_done`` is set when these files were ingested under this name before.
    """
    import json

    from xlcli.store import invocations

    with store.read() as conn:
        existing = conn.execute(text("SELECT id, kind, invocation_id FROM datasets WHERE name = :n"), {"n": name}).first()
    key_params = {"dataset": name, "lang": lang, **params}
    if existing is not None:
        if existing.kind != "parallel":
            raise XlcliError(f"--name {name}: dataset {name!r} is a {existing.kind} dataset; choose another --name")
        if invocations.find_done(store, "ingest-parallel", key_params) is None:
            raise XlcliError(f"--name {name}: parallel dataset {name!r} already holds other sentences; choose another --name")
    summary = {"dataset": name, "lang": lang, "pairs": len(sentences), "already_done": False}
    with invocations.step(store, "ingest-parallel", key_params) as inv:
        if inv.already_done:
            return {**summary, "already_done": True, "pairs": 0}
        with store.write() as conn:
            dataset_id = conn.execute(
                text(
                    "INSERT INTO datasets (name, kind, lang, source, metadata_json, invocation_id)"
                    " VALUES (:n, 'parallel', :l, :s, :m, :i) RETURNING id"
                ),
                {"n": name, "l": lang, "s": source, "i": inv.id,
                 "m": json.dumps({"en_file": en_source, "pairs": len(sentences)}, ensure_ascii=False)},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO parallel_sentences (dataset_id, line, lang, text, en_text, invocation_id)"
                    " VALUES (:d, :n, :l, :t, :e, :i)"
                ),
                [{"d": dataset_id, "n": s.line, "l": s.lang, "t": s.text, "e": s.en_text, "i": inv.id} for s in sentences],
            )
        inv.summary = summary
    return summary
