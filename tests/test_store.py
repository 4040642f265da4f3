"""The store: driver, sqlite-vec, pragmas, migrations, newer-schema refusal, invocations."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from xlcli.errors import XlcliError
from xlcli.store import invocations, migrations, open_store


def test_open_creates_migrated_store_with_vec_loaded(db):
    with open_store(db) as store, store.read() as conn:
        versions = [v for (v,) in conn.execute(text("SELECT version FROM xlcli_migrations ORDER BY version"))]
        assert versions == [m.version for m in migrations.known_migrations()]
        assert conn.execute(text("SELECT vec_version()")).scalar().startswith("v")
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0


def test_write_transaction_is_atomic(db):
    with open_store(db) as store:
        with pytest.raises(RuntimeError):
            with store.write() as conn:
                conn.execute(text("INSERT INTO invocations (step, key, params_json, state, started_at, xlcli_version)"
                                  " VALUES ('x', 'k', '{}', 'done', 'now', '0')"))
                raise RuntimeError("boom")
        with store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM invocations")).scalar() == 0


def test_store_from_newer_schema_is_refused_and_left_alone(db):
    with open_store(db) as store, store.write() as conn:
        conn.execute(text("INSERT INTO xlcli_migrations (version, name) VALUES (9999, 'future')"))
    before = db.read_bytes()
    with pytest.raises(XlcliError, match="newer xlcli"):
        open_store(db)
    assert db.read_bytes() == before


def test_missing_directory_and_read_only_file(tmp_path, db):
    with pytest.raises(XlcliError, match="does not exist"):
        open_store(tmp_path / "nope" / "x.db")
    open_store(db).dispose()
    db.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(XlcliError, match="read-only"):
            open_store(db)
        with open_store(db, write=False) as store, store.read() as conn:  # reading still works
            assert conn.execute(text("SELECT count(*) FROM datasets")).scalar() == 0
    finally:
        db.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(XlcliError, match="not an xlcli store|not a SQLite"):
        open_store(path)


def test_invocation_lifecycle_resumes_same_row(db):
    params = {"a": 1, "b": [1, 2]}
    with open_store(db) as store:
        first = invocations.begin(store, "demo", params)
        assert not first.already_done
        again = invocations.begin(store, "demo", {"b": [1, 2], "a": 1})  # same params, other order
        assert again.id == first.id and again.attempts == 2
        invocations.finish(store, again, {"rows": 3})
        done = invocations.begin(store, "demo", params)
        assert done.already_done and done.summary == {"rows": 3}
        other = invocations.begin(store, "demo", {"a": 2})
        assert other.id != first.id


def test_step_context_marks_failure(db):
    with open_store(db) as store:
        with pytest.raises(ValueError):
            with invocations.step(store, "demo", {}):
                raise ValueError("bad")
        with store.read() as conn:
            state, error = conn.execute(text("SELECT state, error FROM invocations")).one()
        assert state == "failed" and "bad" in error
