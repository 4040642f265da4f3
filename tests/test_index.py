"""xlcli index: dense (vec0) and BM25 indexes, resumability, shards, bad input."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_bert, snapshot

from xlcli.models import resolve_model
from xlcli.store import open_store, vectors

WORDS = (
    "paint sunrise beach dog cat hike concert cello museum trip Lisbon Portland garden bike recipe tacos "
    "marathon school book guitar sister brother friend park photo summer winter camping pottery class"
).split()


def synthetic_locomo(conversations: int, sessions: int, turns: int, seed: int = 0) -> list[dict]:
    """A LoCoMo-format file with many turns of varied length (for resumability and speed tests)."""
    rng = random.Random(seed)
    data = []
    for c in range(conversations):
        conversation = {"speaker_a": "Ann", "speaker_b": "Bob"}
        for s in range(1, sessions + 1):
            conversation[f"session_{s}_date_time"] = f"1:00 pm on {s} May, 2023"
            conversation[f"session_{s}"] = [
                {"speaker": "Ann" if t % 2 else "Bob", "dia_id": f"D{s}:{t}",
                 "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))}
                for t in range(1, turns + 1)
            ]
        qa = [{"question": " ".join(rng.choice(WORDS) for _ in range(6)) + "?", "answer": "x",
               "evidence": [f"D{rng.randint(1, sessions)}:{rng.randint(1, turns)}"], "category": 4} for _ in range(5)]
        data.append({"sample_id": f"conv-{c}", "conversation": conversation, "qa": qa})
    return data


def index_vectors(db: Path, name: str) -> dict[int, np.ndarray]:
    with open_store(db, write=False) as store, store.read() as conn:
        row = conn.exec_driver_sql("SELECT vec_table, dim FROM indexes WHERE name = ?", (name,)).one()
        data = vectors.read_all(conn, row.vec_table, row.dim)
    return dict(zip(data.passage_ids.tolist(), data.matrix))


def test_dense_index_holds_every_passage_once_and_encodes_like_the_encoder(small_store, db, tiny_bert):
    result = small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "3", "--device", "cpu")
    assert "status done" in result.output
    with open_store(db) as store, store.read() as conn:
        passages = conn.exec_driver_sql("SELECT id, scope, text FROM passages ORDER BY id").all()
        index = conn.exec_driver_sql("SELECT * FROM indexes WHERE name = 'tiny'").mappings().one()
        entries = conn.exec_driver_sql("SELECT count(*), count(DISTINCT passage_id) FROM index_entries").one()
        scopes = dict(conn.exec_driver_sql(f"SELECT passage_id, scope FROM {index['vec_table']}").all())
        model = conn.exec_driver_sql("SELECT * FROM models WHERE id = ?", (index["model_id"],)).mappings().one()
    assert (index["kind"], index["dim"], index["status"]) == ("dense", 32, "done")
    assert (model["pooling"], model["dim"], model["normalize"]) == ("mean", 32, 1)
    assert entries == (len(passages), len(passages))
    assert scopes == {p.id: p.scope for p in passages}  # the partition key is the conversation
    stored = index_vectors(db, "tiny")
    encoder = resolve_model(open_store(db), str(tiny_bert))[1].load("cpu")
    expected = encoder.encode_passages([p.text for p in passages], batch_size=1)
    for p, vec in zip(passages, expected):
        np.testing.assert_allclose(stored[p.id], vec, atol=2e-6)

    again = small_store("index", "--name", "tiny", "--model", tiny_bert, "--device", "cpu")
    assert "nothing to do" in again.output


def test_passages_ingested_later_are_added_by_the_same_command(cli, db, tiny_bert, tmp_path):
    from conftest import small_locomo

    first, both = tmp_path / "first.json", tmp_path / "both.json"
    first.write_text(json.dumps(small_locomo()[:1]))
    both.write_text(json.dumps(small_locomo()))
    cli("ingest", "locomo", first, "--name", "small")
    command = ("index", "--name", "tiny", "--model", tiny_bert, "--device", "cpu", "--json")
    one = json.loads(cli(*command).stdout)
    cli("ingest", "locomo", both, "--name", "small")
    stale = cli("eval", "--index", "tiny", ok=False)
    assert stale.exit_code == 2 and "not complete" in stale.output
    two = json.loads(cli(*command).stdout)
    assert (two["already_indexed"], two["encoded"], two["status"]) == (one["total"], two["total"] - one["total"], "done")
    assert json.loads(cli(*command).stdout)["nothing_to_do"] is True
    cli("eval", "--index", "tiny", "--device", "cpu")


def test_bm25_index_has_every_passage(small_store, db):
    small_store("index", "--name", "bm25", "--bm25")
    with open_store(db) as store, store.read() as conn:
        index = conn.exec_driver_sql("SELECT * FROM indexes WHERE name = 'bm25'").mappings().one()
        n = conn.exec_driver_sql("SELECT count(*) FROM passages").scalar()
        matched = conn.exec_driver_sql(f"SELECT count(*) FROM {index['vec_table']} WHERE {index['vec_table']} MATCH 'said'").scalar()
    assert (index["kind"], index["status"], index["model_id"]) == ("bm25", "done", None)
    assert matched == n  # every LoCoMo turn text is '<speaker> said, "..."'


def test_shards_fill_one_index_and_match_an_unsharded_build(small_store, db, tiny_bert):
    first = small_store("index", "--name", "sharded", "--model", tiny_bert, "--shard", "1/2", "--device", "cpu", "--json")
    assert json.loads(first.stdout)["status"] == "building"
    second = small_store("index", "--name", "sharded", "--model", tiny_bert, "--shard", "2/2", "--device", "cpu", "--json")
    assert json.loads(second.stdout)["status"] == "done"
    small_store("index", "--name", "whole", "--model", tiny_bert, "--device", "cpu")
    sharded, whole = index_vectors(db, "sharded"), index_vectors(db, "whole")
    assert sorted(sharded) == sorted(whole)
    for pid in whole:
        np.testing.assert_allclose(sharded[pid], whole[pid], atol=2e-6)


def test_bad_input_is_one_line_exit_2_and_leaves_the_store_unchanged(small_store, db, tiny_bert, tmp_path):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--device", "cpu")
    wider = make_tiny_bert(tmp_path / "wider", [t for t in ["a b c", "hello world"] * 5], hidden=48)
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(tiny_bert / "config.json", no_tokenizer)
    shutil.copy(tiny_bert / "model.safetensors", no_tokenizer)
    before = snapshot(db)
    cases = [
        (["--model", tmp_path / "does-not-exist"], "no such directory"),
        (["--model", no_tokenizer], "no tokenizer"),
        (["--model", wider], "48"),  # same name, another dimension
        (["--model", tiny_bert, "--shard", "3/2"], "--shard 3/2"),
        (["--model", tiny_bert, "--shard", "two"], "--shard"),
        (["--model", tiny_bert, "--pooling", "max"], "--pooling"),
        (["--model", tiny_bert, "--dataset", "nope"], "was built on dataset 'small'"),
        (["--model", tiny_bert, "--batch-size", "0"], "--batch-size"),
        (["--bm25"], "dense index"),
        (["--bm25", "--model", tiny_bert], "lexical index"),
    ]
    for args, message in cases:
        result = small_store("index", "--name", "tiny", *args, "--device", "cpu", ok=False)
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], (args, result.output)
        assert snapshot(db) == before, args
    result = small_store("index", "--name", "other", "--dataset", "nope", ok=False)
    assert result.exit_code == 2 and "no dataset 'nope'" in result.output
    assert snapshot(db) == before


@pytest.mark.slow
def test_unknown_hub_id_is_one_line_exit_2(small_store, db):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = snapshot(db)
    proc = subprocess.run(
        [sys.executable, "-c", "from xlcli.cli import main; main()", "--db", str(db), "index", "--name", "x",
         "--model", "no-such-org/no-such-model"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: model no-such-org/no-such-model")
    assert "Traceback" not in proc.stderr
    assert snapshot(db) == before


def _xlcli(db: Path, *args) -> list[str]:
    return [sys.executable, "-c", "from xlcli.cli import main; main()", "--db", str(db), *map(str, args)]


@pytest.mark.slow
def test_kill_9_half_way_then_rerun_gives_the_uninterrupted_result(tmp_path):
    data = tmp_path / "big.json"
    data.write_text(json.dumps(synthetic_locomo(conversations=4, sessions=10, turns=40)))
    model = make_tiny_bert(tmp_path / "model", WORDS * 3)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # same threads in every run: same kernels, same bits
    killed_db, clean_db = tmp_path / "killed.db", tmp_path / "clean.db"
    for db in (killed_db, clean_db):
        subprocess.run(_xlcli(db, "ingest", "locomo", data, "--name", "big"), check=True, capture_output=True, env=env)
    command = ("index", "--name", "tiny", "--model", model, "--batch-size", "2", "--device", "cpu")

    proc = subprocess.Popen(_xlcli(killed_db, *command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    with open_store(killed_db, write=False) as store:
        deadline = time.time() + 120
        done = 0
        while time.time() < deadline and proc.poll() is None:
            with store.read() as conn:
                done = conn.exec_driver_sql("SELECT count(*) FROM index_entries").scalar()
            if done >= 100:
                break
            time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    total = 4 * 10 * 40
    with open_store(killed_db, write=False) as store, store.read() as conn:
        entries = conn.exec_driver_sql("SELECT count(*) FROM index_entries").scalar()
        state = conn.exec_driver_sql("SELECT state FROM invocations WHERE step = 'index'").scalar()
        in_table = conn.exec_driver_sql("SELECT count(*) FROM vec_1").scalar()
    assert 0 < entries < total, "the index finished before it could be killed: make the test's work larger"
    assert state == "running" and in_table == entries  # vectors and bookkeeping were committed together
    with open_store(killed_db, write=False) as store, store.read() as conn:
        assert conn.exec_driver_sql("SELECT sum(n) FROM vector_blocks").scalar() == entries  # so were the vector blocks

    subprocess.run(_xlcli(killed_db, *command), check=True, capture_output=True, env=env)
    subprocess.run(_xlcli(clean_db, *command), check=True, capture_output=True, env=env)
    with open_store(killed_db, write=False) as store, store.read() as conn:
        counts = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM index_entries), (SELECT count(DISTINCT passage_id) FROM index_entries),"
            " (SELECT count(*) FROM vec_1), (SELECT status FROM indexes), (SELECT attempts || state FROM invocations WHERE step = 'index')"
        ).one()
    assert tuple(counts) == (total, total, total, "done", "2done")
    resumed, clean = index_vectors(killed_db, "tiny"), index_vectors(clean_db, "tiny")
    assert sorted(resumed) == sorted(clean)
    for pid in clean:
        assert np.array_equal(resumed[pid], clean[pid]), pid
    blocks = {}
    for path in (killed_db, clean_db):
        with open_store(path, write=False) as store, store.read() as conn:
            row = conn.exec_driver_sql("SELECT * FROM indexes WHERE name = 'tiny'").mappings().one()
            ids, matrix = vectors.read_blocks(conn, row["id"], row["dim"])
            blocks[path] = {int(p): v.tolist() for p, v in zip(ids, matrix)}
    assert blocks[killed_db] == blocks[clean_db] == {pid: v.tolist() for pid, v in clean.items()}


@pytest.mark.slow
def test_two_shard_processes_at_once_fill_one_index(tmp_path):
    data = tmp_path / "big.json"
    data.write_text(json.dumps(synthetic_locomo(conversations=2, sessions=5, turns=30, seed=1)))
    model = make_tiny_bert(tmp_path / "model", WORDS * 3)
    db = tmp_path / "store.db"
    subprocess.run(_xlcli(db, "ingest", "locomo", data, "--name", "big"), check=True, capture_output=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(_xlcli(db, "index", "--name", "tiny", "--model", model, "--batch-size", "4", "--shard", f"{i}/2",
                                "--device", "cpu"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for i in (1, 2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    with open_store(db, write=False) as store, store.read() as conn:
        row = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM passages), (SELECT count(DISTINCT passage_id) FROM index_entries),"
            " (SELECT count(*) FROM vec_1), (SELECT status FROM indexes), (SELECT count(*) FROM indexes)"
        ).one()
    assert row[0] == 2 * 5 * 30 and tuple(row[1:]) == (row[0], row[0], "done", 1)


def test_a_second_index_process_refuses_while_a_live_one_builds_the_same_index(small_store, db, tiny_bert):
    import socket

    from sqlalchemy import text

    from xlcli.index import build, plain_passage_vectors

    def dies_after_one_batch(encoder):
        plain, seen = plain_passage_vectors(encoder), []

        def vectorize(batch):
            if seen:
                raise RuntimeError("the process died here")
            seen.append(len(batch))
            return plain(batch)

        return vectorize

    with open_store(db) as store, pytest.raises(RuntimeError):
        build(store, "tiny", model=str(tiny_bert), batch_size=4, device="cpu", vectorizer_factory=dies_after_one_batch,
              show_progress=False)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    command = ("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "4", "--device", "cpu")
    try:
        with open_store(db) as store, store.write() as conn:  # as a live `xlcli index` leaves it mid-build
            conn.execute(text("UPDATE invocations SET state = 'running', pid = :p, host = :h WHERE step = 'index'"),
                         {"p": other.pid, "h": socket.gethostname()})
        before = snapshot(db)
        assert len(before["index_entries"]) == 4
        result = small_store(*command, ok=False)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith("Error:") and f"process {other.pid} on {socket.gethostname()} is running this index step" in lines[0]
        assert snapshot(db) == before
    finally:
        other.kill()
        other.wait()
    out = small_store(*command).output  # its process is gone: this one resumes the build
    assert "4 already there" in out and "status done" in out
    with open_store(db, write=False) as store, store.read() as conn:
        row = conn.exec_driver_sql("SELECT attempts, state FROM invocations WHERE step = 'index'").one()
    assert tuple(row) == (2, "done")  # the refused run took no attempt


@pytest.mark.slow
def test_two_index_processes_started_together_build_once(tmp_path):
    data = tmp_path / "big.json"
    data.write_text(json.dumps(synthetic_locomo(conversations=4, sessions=10, turns=40, seed=2)))
    model = make_tiny_bert(tmp_path / "model", WORDS * 3)
    db = tmp_path / "store.db"
    subprocess.run(_xlcli(db, "ingest", "locomo", data, "--name", "big"), check=True, capture_output=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = ("index", "--name", "tiny", "--model", model, "--batch-size", "2", "--device", "cpu")
    procs = [subprocess.Popen(_xlcli(db, *command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outcomes = sorted((proc.wait(timeout=600), proc.communicate()[1]) for proc in procs)
    (won, _), (lost, message) = outcomes
    assert (won, lost) == (0, 2), outcomes
    assert message.strip().startswith("Error: process") and "is running this index step" in message
    with open_store(db, write=False) as store, store.read() as conn:
        row = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM index_entries),"
            " (SELECT count(DISTINCT invocation_id) FROM index_entries), (SELECT attempts || state FROM invocations WHERE step = 'index')"
        ).one()
    assert row[1] == row[0] and row[2] == 1 and row[3] == "1done"


@pytest.mark.slow
def test_a_cached_hub_model_loads_when_the_hub_cannot_be_reached(small_store, db, tiny_bert, tmp_path):
    revision = "0" * 40  # the hub cache's layout: models--ORG--NAME/{refs/main, snapshots/REVISION/...}
    repo = tmp_path / "hf-home" / "hub" / "models--local-org--tiny-bert"
    shutil.copytree(tiny_bert, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT=f"http://127.0.0.1:{closed}", OMP_NUM_THREADS="1")
    proc = subprocess.run(_xlcli(db, "index", "--name", "cached", "--model", "local-org/tiny-bert", "--device", "cpu", "--json"),
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "done" and result["encoded"] == result["total"] > 0
    assert "Retrying" not in proc.stderr
