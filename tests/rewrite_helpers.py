"""What the rewrite tests share: a store with the bundled fixture perturbed, rows of a run, a dump of every table."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, Cli
from sqlalchemy import text

from xlcli.store import open_store

LEXICONS = [arg for lang in ("es", "de", "fr", "ru") for arg in ("--lexicon", f"{lang}={FIXTURES / 'lexicon' / f'en-{lang}.txt'}")]


def build_fixture_store(directory: Path) -> Path:
    """fixtures/locomo + its translations, perturbed with the ielab protocol (10 variants a query)."""
    cli = Cli(directory / "base.db")
    cli("ingest", "locomo", FIXTURES / "locomo" / "locomo_fixture.json", "--name", "fixture")
    cli("ingest", "translations", FIXTURES / "locomo" / "translations.jsonl")
    cli("perturb", "--protocol", "ielab", "--seed", "3")
    return cli.db


def copy_store(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(str(source) + suffix).exists():
            shutil.copy(str(source) + suffix, str(target) + suffix)
    return target


def rewrites(db: Path, run: str) -> list[tuple]:
    """(query ext id, lang, variant idx or -1, text, operations_json, unknown) of a run, sorted."""
    with open_store(db, write=False) as store, store.read() as conn:
        rows = conn.execute(text(
            "SELECT q.ext_id, q.lang, coalesce(v.idx, -1) AS idx, coalesce(vs.name, '') AS vset, r.text, r.operations_json, r.unknown"
            " FROM query_rewrites r JOIN rewrite_runs rr ON rr.id = r.rewrite_run_id JOIN queries q ON q.id = r.query_id"
            " LEFT JOIN query_variants v ON v.id = r.variant_id LEFT JOIN variant_sets vs ON vs.id = v.variant_set_id"
            " WHERE rr.name = :n ORDER BY 1, 2, 4, 3"), {"n": run}).all()
    return [tuple(r) for r in rows]


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table (the store's whole content, to compare before and after)."""
    with open_store(db, write=False) as store, store.read() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all()), key=repr) for t in tables}
