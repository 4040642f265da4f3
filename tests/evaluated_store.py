"""A small evaluated store for error-analysis tests: the small LoCoMo (conv-b held out) with its
translations, ielab variants, a BM25 index and optionally a tiny dense one, evaluated by `xlcli eval`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import SMALL_TRANSLATIONS, Cli, small_locomo

MEASURES = "R@10 RR@10 nDCG@10"


def build(directory: Path, dense_model: Path | None = None, evaluate: bool = True) -> Cli:
    directory.mkdir(parents=True, exist_ok=True)
    locomo, translations = directory / "small_locomo.json", directory / "translations.jsonl"
    locomo.write_text(json.dumps(small_locomo(), ensure_ascii=False), encoding="utf-8")
    translations.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in SMALL_TRANSLATIONS), encoding="utf-8")
    cli = Cli(directory / "store.db")
    cli("ingest", "locomo", locomo, "--name", "small", "--test-conversations", "conv-b")
    cli("ingest", "translations", translations)
    cli("perturb", "--protocol", "ielab", "--variants", "3", "--split", "test", "--seed", "1")
    cli("index", "--name", "bm", "--bm25")
    indexes = ["bm"]
    if dense_model is not None:
        cli("index", "--name", "tiny", "--model", dense_model, "--device", "cpu")
        indexes.append("tiny")
    if evaluate:
        cli("eval", "--index", ",".join(indexes), "--measures", MEASURES, "--device", "cpu")
    return cli


def rows_dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table (the store's content, for 'store unchanged' checks)."""
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                                             " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM \"{t}\"").fetchall(), key=repr) for t in tables}
