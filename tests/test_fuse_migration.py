"""Migration 0004 rebuilds eval_runs (index_id NULLable, fusion_run_id added): a store evaluated
before it keeps every run, ranking and measure, with their references intact."""

from __future__ import annotations

import sqlite3

import evaluated_store

from xlcli.store import migrations, open_store


def _dump(db, table):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())


def _old_store(tmp_path, monkeypatch):
    """A store whose eval runs were written under schema 3: ingest/perturb/index there, and the runs
    an identical store's eval wrote copied in (today's eval writes the 0004 columns)."""
    reference = evaluated_store.build(tmp_path / "reference")  # BM25 only, evaluated, schema 4
    known = migrations.known_migrations
    monkeypatch.setattr(migrations, "known_migrations", lambda: [m for m in known() if m.version < 4])
    cli = evaluated_store.build(tmp_path / "old", evaluate=False)
    with sqlite3.connect(cli.db) as conn:
        conn.execute("ATTACH DATABASE ? AS ref", (str(reference.db),))
        assert conn.execute("SELECT count(*) FROM invocations").fetchone() == conn.execute(
            "SELECT count(*) FROM ref.invocations WHERE step <> 'eval'").fetchone()
        conn.execute("INSERT INTO invocations SELECT * FROM ref.invocations WHERE step = 'eval'")
        columns = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(eval_runs)"))
        conn.execute(f"INSERT INTO eval_runs ({columns}) SELECT {columns} FROM ref.eval_runs")
        conn.execute("INSERT INTO eval_rankings SELECT * FROM ref.eval_rankings")
        conn.execute("INSERT INTO eval_measures SELECT * FROM ref.eval_measures")
        conn.commit()
        conn.execute("DETACH DATABASE ref")
    monkeypatch.setattr(migrations, "known_migrations", known)
    return cli


def test_a_store_evaluated_before_0004_keeps_its_runs_and_references(tmp_path, monkeypatch):
    cli = _old_store(tmp_path, monkeypatch)
    db = cli.db
    with sqlite3.connect(db) as conn:
        assert 4 not in {v for (v,) in conn.execute("SELECT version FROM xlcli_migrations")}
        assert "fusion_run_id" not in [r[1] for r in conn.execute("PRAGMA table_info(eval_runs)")]
    runs, rankings, measures = _dump(db, "eval_runs"), _dump(db, "eval_rankings"), _dump(db, "eval_measures")
    assert runs and rankings and measures

    with open_store(db, write=True):  # opening the store for writing applies 0004
        pass
    with sqlite3.connect(db) as conn:
        assert 4 in {v for (v,) in conn.execute("SELECT version FROM xlcli_migrations")}
        info = {r[1]: r for r in conn.execute("PRAGMA table_info(eval_runs)")}
        assert info["index_id"][3] == 0 and "fusion_run_id" in info  # notnull flag off
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # the rebuilt table's foreign keys still guard the children
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            conn.execute("DELETE FROM eval_runs WHERE id = (SELECT min(id) FROM eval_runs)")
            raise AssertionError("deleting a referenced run was allowed")
        except sqlite3.IntegrityError:
            pass
    assert [(*r, None) for r in runs] == _dump(db, "eval_runs")
    assert _dump(db, "eval_rankings") == rankings and _dump(db, "eval_measures") == measures
    # report and the resolver still read the old runs
    assert "bm" in cli("report", "--measure", "R@10").stdout
