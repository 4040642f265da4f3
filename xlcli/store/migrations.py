"""Versioned schema migrations, applied when a store is opened.

Each migration is a SQL file ``NNNN_name.sql`` in the ``migrations/`` directory (shipped in the
wheel as ``xlcli/migrations``). A migration runs in one transaction and is recorded in
``xlcli_migrations``; a store that records a version this xlcli does not know was written by a
newer xlcli and is refused rather than half-understood.

Plain SQL files rather than Alembic: the schema is the documentation researchers read before
writing ``xlcli sql`` queries, SQLite DDL is transactional, and the runner is a few lines that
work the same from a checkout and from an installed wheel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from xlcli.errors import XlcliError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        from xlcli.store.driver import sqlite_module

        complete = sqlite_module().complete_statement
        statements, pending = [], ""
        for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
            pending += line
            if complete(pending):
                if pending.strip():
                    statements.append(pending.strip())
                pending = ""
        if pending.strip() and not pending.strip().startswith("--"):
            raise RuntimeError(f"{self.path}: incomplete SQL statement at end of file")
        return statements


def migrations_dir() -> Path:
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "migrations", package_dir.parent / "migrations"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("xlcli's migrations directory is missing from the installation")


def known_migrations() -> list[Migration]:
    found = []
    for path in sorted(migrations_dir().iterdir()):
        match = _FILE.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    return found


def latest_version() -> int:
    return max(m.version for m in known_migrations())


def applied_versions(dbapi_conn) -> set[int]:
    row = dbapi_conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'xlcli_migrations'"
    ).fetchone()
    if row is None:
        return set()
    return {v for (v,) in dbapi_conn.execute("SELECT version FROM xlcli_migrations")}


def check_not_newer(applied: set[int], where: str) -> None:
    unknown = applied - {m.version for m in known_migrations()}
    if unknown:
        raise XlcliError(
            f"{where} was written by a newer xlcli (schema version {max(unknown)}, this xlcli "
            f"knows up to {latest_version()}): upgrade xlcli to use it"
        )


def pending(applied: set[int]) -> list[Migration]:
    return [m for m in known_migrations() if m.version not in applied]


def apply(dbapi_conn, migration: Migration) -> None:
    """Run one migration atomically on a raw connection in autocommit mode."""
    dbapi_conn.execute("BEGIN IMMEDIATE")
    try:
        dbapi_conn.execute(
            "CREATE TABLE IF NOT EXISTS xlcli_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        )
        if migration.version in applied_versions(dbapi_conn):  # another process won the race
            dbapi_conn.execute("ROLLBACK")
            return
        for statement in migration.statements():
            dbapi_conn.execute(statement)
        dbapi_conn.execute(
            "INSERT INTO xlcli_migrations (version, name) VALUES (?, ?)",
            (migration.version, migration.name),
        )
        dbapi_conn.execute("COMMIT")
    except BaseException:
        dbapi_conn.execute("ROLLBACK")
        raise
