"""What the bad-input catalogues share: a small ingested store, a snapshot of it, and the refusal check.

The promise under test (README, "Safety"): a user's mistake ends in exactly one ``Error: ...`` line
on stderr, exit code 2, no traceback, and a store whose every table holds the rows it held before.

The snapshot compares rows, not bytes (a WAL checkpoint may rewrite the file legitimately) and not
counts (an UPDATE keeps them). It reads every ordinary table, the schema (``sqlite_master``) and
the shadow tables of vec0 and FTS5 indexes — which hold those indexes' content — and leaves out the
virtual tables themselves, whose rows are exactly their shadow tables'. A path that is not a
readable SQLite database (missing, empty, not SQLite, damaged) is compared by existence and bytes.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from xlcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
TEST_CONVERSATION = "conv-104"


@dataclass
class Outcome:
    """What a command did, from the in-process runner or from a subprocess alike."""

    exit_code: int
    stdout: str
    stderr: str


def run(db: Path, *args) -> Outcome:
    """The real Typer app in this process (as tests/conftest.Cli does), stderr kept apart."""
    result = CliRunner().invoke(app, ["--db", str(db), *map(str, args)], catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        stderr += "".join(traceback.format_exception(result.exception))  # an escaped exception is a traceback
    return Outcome(result.exit_code, result.stdout, stderr)


def build_store(directory: Path, encoder: Path | None = None) -> Path:
    """A small store: the LoCoMo fixture (one test conversation) with its translations, an
    ielab variant set, the BEIR fixture, a BM25 index and — given a (tiny) encoder — a dense index
    (vec0 shadow tables) and one eval run. Built once per test module; copy it per case."""
    db = Path(directory) / "store.db"
    steps = [
        ("ingest", "locomo", FIXTURES / "locomo" / "locomo_fixture.json", "--name", "fx", "--test-conversations", TEST_CONVERSATION),
        ("ingest", "translations", FIXTURES / "locomo" / "translations.jsonl", "--dataset", "fx"),
        ("ingest", "beir", FIXTURES / "beir", "--name", "beirfx"),
        ("perturb", "-p", "ielab", "--dataset", "fx", "--langs", "en", "--split", "test", "-n", "2"),
        ("index", "--name", "fx-bm25", "--dataset", "fx", "--bm25"),
    ]
    if encoder is not None:
        steps += [
            ("index", "--name", "fx-dense", "--dataset", "fx", "--model", encoder, "--device", "cpu", "--max-length", "32"),
            ("eval", "--index", "fx-bm25", "--langs", "en", "--variants", "none"),
        ]
    for step in steps:
        outcome = run(db, *step)
        assert outcome.exit_code == 0, f"building the store: xlcli {' '.join(map(str, step))}:\n{outcome.stdout}{outcome.stderr}"
    _checkpoint(db)
    return db


def _checkpoint(db: Path) -> None:
    """Fold the WAL into the file, so that copying the one file copies the whole store."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def copy_store(db: Path, directory: Path) -> Path:
    target = Path(directory) / db.name
    shutil.copy(db, target)
    return target


_SQLITE_HEADER = b"SQLite format 3\x00"


def snapshot(db: Path) -> dict:
    """Every table's rows, ordered (see the module docstring for what is in and out)."""
    db = Path(db)
    if not db.exists():
        return {"exists": False}
    if db.is_dir():
        return {"directory": sorted(p.name for p in db.iterdir())}
    data = db.read_bytes()
    if not data.startswith(_SQLITE_HEADER):
        return {"bytes": data}
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
            tables = [name for kind, name, _, sql in schema
                      if kind == "table" and not (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
            rows = {"sqlite_master": schema}
            for table in tables:
                width = len(conn.execute(f'SELECT * FROM "{table}" LIMIT 0').description)
                order = ", ".join(str(i) for i in range(1, width + 1))
                rows[table] = conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()
            return rows
        finally:
            conn.close()
    except sqlite3.DatabaseError:  # damaged: compare what can be compared
        return {"bytes": data}


def assert_refused(result: Outcome, before: dict, after: dict) -> None:
    """Exit 2, exactly one non-empty stderr line and it is ``Error: ...``, no traceback, same rows."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"stderr should be one Error: line, got:\n{result.stderr}"
    assert result.exit_code == 2, f"exit code {result.exit_code}: {lines}"
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the store changed ({', '.join(changed)}) although the command was refused: {lines[0]}"
