"""What the rewrite tests share: a store with the bundled fixture perturbed, the rows of a run."""

from __future__ import annotations

from pathlib import Path

from conftest import build_store, committed_fixture, ingest_fixture
from sqlalchemy import text

from xlcli.store import open_store

LEXICONS = [arg for lang in ("es", "de", "fr", "ru") for arg in ("--lexicon", f"{lang}={committed_fixture(f'lexicon/en-{lang}.txt')}")]


def build_fixture_store(directory: Path) -> Path:
    """fixtures/locomo + its translations, perturbed with the ielab protocol (10 variants a query)."""
    return build_store(directory / "base.db", ingest_fixture("fixture"), ("perturb", "--protocol", "ielab", "--seed", "3")).db


def rewrites(db: Path, run: str) -> list[tuple]:
    """(query ext id, lang, variant idx or -1, text, operations_json, unknown) of a run, sorted."""
    with open_store(db, write=False) as store, store.read() as conn:
        rows = conn.execute(text(
            "SELECT q.ext_id, q.lang, coalesce(v.idx, -1) AS idx, coalesce(vs.name, '') AS vset, r.text, r.operations_json, r.unknown"
            " FROM query_rewrites r JOIN rewrite_runs rr ON rr.id = r.rewrite_run_id JOIN queries q ON q.id = r.query_id"
            " LEFT JOIN query_variants v ON v.id = r.variant_id LEFT JOIN variant_sets vs ON vs.id = v.variant_set_id"
            " WHERE rr.name = :n ORDER BY 1, 2, 4, 3"), {"n": run}).all()
    return [tuple(r) for r in rows]
