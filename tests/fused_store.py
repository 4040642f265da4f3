"""An evaluated store to fuse (bm25 ``bm`` + tiny dense ``tiny``, test split clean and ielab, train
split clean), built once per test module and copied for each test that writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import evaluated_store
from conftest import Cli


def build(directory: Path, dense_model: Path) -> Cli:
    cli = evaluated_store.build(directory, dense_model)
    cli("eval", "--index", "bm,tiny", "--split", "train", "--variants", "none", "--measures", evaluated_store.MEASURES,
        "--device", "cpu")
    return cli


def copy(cli: Cli, directory: Path) -> Cli:
    """A copy of the store (SQLite's backup API, so a WAL store copies whole)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "store.db"
    with sqlite3.connect(cli.db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return Cli(target)
