"""The test kit itself: the snapshot sees what counts cannot, the fake encoder is deterministic,
registered like a model and needs no torch, a missing committed fixture fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, FakeEncoder, Outcome, assert_refused, beir_folder, committed_fixture, load_encoder, rows, snapshot

from xlcli.encoders import EncoderConfig
from xlcli.store import open_store


def test_snapshot_sees_updates_and_vector_changes(small_store, db, fake_model):
    small_store("index", "--name", "f", "--model", fake_model, "--device", "cpu")
    small_store("index", "--name", "bm", "--bm25")
    before = snapshot(db)
    assert snapshot(db) == before
    virtual = {name for _, name, _, sql in before["sqlite_master"] if (sql or "").startswith("CREATE VIRTUAL TABLE")}
    assert len(virtual) == 2 and not virtual & set(before)  # the vec0 and FTS5 tables, read through their shadows:
    assert all(any(t.startswith(f"{v}_") for t in before) for v in virtual)
    with open_store(db) as store, store.write() as conn:
        conn.exec_driver_sql("UPDATE invocations SET attempts = attempts WHERE id = 1")  # a no-op write
    assert snapshot(db) == before
    with open_store(db) as store, store.write() as conn:
        conn.exec_driver_sql("UPDATE passages SET text = text || '.' WHERE id = 1")  # same counts
    changed = snapshot(db)
    assert changed != before and {k for k in before if before[k] != changed[k]} == {"passages"}
    with open_store(db) as store, store.write() as conn:
        (table,) = conn.exec_driver_sql("SELECT vec_table FROM indexes WHERE name = 'f'").one()
        conn.exec_driver_sql(f"UPDATE {table} SET embedding = ? WHERE passage_id = 1", (np.ones(64, dtype=np.float32).tobytes(),))
    again = snapshot(db)
    assert {k for k in changed if changed[k] != again[k]} == {f"{table}_vector_chunks00"}


def test_fake_encoder_is_deterministic_and_reads_its_config():
    config = EncoderConfig("8", normalize=True, max_length=3, query_prefix="query ")
    encoder = FakeEncoder(config)
    a, b, c = encoder.encode_passages(["Pepper the dog", "Pepper the dog", "a cello case"])
    assert not np.allclose(a, c)
    assert a.dtype == np.float32 and a.shape == (8,) and np.array_equal(a, b) and np.linalg.norm(a) == pytest.approx(1, abs=1e-6)
    # max_length counts words after the prefix, as a tokenizer counts tokens
    (q,) = encoder.encode_queries(["Pepper the dog"])
    np.testing.assert_array_equal(q, encoder.encode_passages(["query Pepper the"])[0])
    assert not np.allclose(q, a)
    assert FakeEncoder(EncoderConfig("8")).encode_passages([]).shape == (0, 8)


def test_fake_model_is_registered_like_a_model(small_store, db, fake_model):
    small_store("index", "--name", "f", "--model", fake_model, "--device", "cpu")
    assert rows(db, "SELECT name, source, path, dim FROM models") == [(fake_model, "fake", fake_model.split(":")[1], 64)]
    # the index's vectors are the fake's vectors of the passages, as the registered settings make them
    encoder = load_encoder(db, fake_model)
    (text, vector), = rows(db, "SELECT p.text, vec_to_json(v.embedding) FROM passages p JOIN vec_1 v ON v.passage_id = p.id"
                               " WHERE p.id = 1")
    np.testing.assert_allclose(json.loads(vector), encoder.encode_passages([text])[0], atol=1e-6)


def test_eval_and_report_on_the_fake_need_no_torch(tmp_path):
    """In a fresh interpreter: ingest, index, perturb, eval and report with the fake never import torch."""
    script = f"""
import json, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
import conftest
from pathlib import Path
from xlcli.encoders import BACKENDS, Backend
BACKENDS["fake"] = Backend(conftest.FakeEncoder)
d = Path({str(tmp_path)!r})
(d / "l.json").write_text(json.dumps(conftest.small_locomo()))
cli = conftest.Cli(d / "s.db")
cli("ingest", "locomo", d / "l.json", "--name", "small", "--test-conversations", "conv-b")
cli("index", "--name", "f", "--model", conftest.FAKE_MODEL, "--device", "cpu")
cli("perturb", "--protocol", "ielab", "--variants", "2", "--split", "test")
results = json.loads(cli("eval", "--index", "f", "--json", "--device", "cpu").stdout)
cli("report", "--format", "md")
print(json.dumps({{"runs": len(results), "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"runs": 2, "torch": False, "transformers": False}


def test_beir_folder_ingests_as_written(cli, db, tmp_path):
    folder = beir_folder(tmp_path / "b", {"d1": ("T", "one"), "d2": "two"}, {"q1": "x", "q2": "y"}, [("q2", "d2", 2)])
    cli("ingest", "beir", folder, "--name", "b")
    assert rows(db, "SELECT q.ext_id, p.ext_id, relevance FROM qrels JOIN queries q ON q.id = query_id"
                    " JOIN passages p ON p.id = passage_id") == [("q2", "d2", 2)]
    default = beir_folder(tmp_path / "c", {"a": "x", "b": "y"}, {"q": "x"})
    assert (default / "qrels" / "test.tsv").read_text().splitlines()[1:] == ["q\ta\t1"]


def test_a_missing_committed_fixture_fails_instead_of_skipping():
    assert committed_fixture("beir").is_dir()
    with pytest.raises(pytest.fail.Exception, match="fixtures/no-such-file.json is missing"):
        committed_fixture("no-such-file.json")


def test_snapshot_of_a_path_that_is_not_a_store_compares_existence_and_bytes(tmp_path):
    path = tmp_path / "notes.db"
    missing = snapshot(path)
    path.write_text("my notes\n", encoding="utf-8")
    notes = snapshot(path)
    assert notes != missing and snapshot(path) == notes
    path.write_text("my notez\n", encoding="utf-8")  # same size, one byte
    assert snapshot(path) != notes
    Path(f"{path}-wal").write_bytes(b"")
    assert snapshot(path) != snapshot(tmp_path / "other.db") and snapshot(path)["sidecars"] == ["-wal"]
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x01" * 200)
    assert snapshot(damaged) == {"bytes": damaged.read_bytes(), "sidecars": []}


def test_assert_refused_holds_every_part_of_the_promise(small_store, db):
    before = snapshot(db)
    assert assert_refused(Outcome(2, "", "\nError: no such thing\n"), db, before, "no such") == "Error: no such thing"
    broken = [Outcome(1, "", "Error: x\n"), Outcome(2, "", "Error: x\nmore\n"), Outcome(2, "", "oops\n"),
              Outcome(2, "partial output\n", "Error: x\n"), Outcome(2, "", "Error: Traceback (most recent call last)\n")]
    for outcome in broken:
        with pytest.raises(AssertionError):
            assert_refused(outcome, db, before)
    with pytest.raises(AssertionError, match="expected 'dog'"):
        assert_refused(Outcome(2, "", "Error: x\n"), db, before, "dog")
    small_store("index", "--name", "bm", "--bm25")
    with pytest.raises(AssertionError, match="the store changed"):
        assert_refused(Outcome(2, "", "Error: x\n"), db, before)
