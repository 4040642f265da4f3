"""Approximate search (``index --ann``): structures built over a finished index, stored as faiss
bytes in the store, reloaded; eval records their recall against exact; bad requests refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import beir_folder, rows, snapshot

from xlcli import ann
from xlcli.search import DenseIndex
from xlcli.store import ann_blobs, open_store


def _clustered(n: int, dim: int = 32, clusters: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    return (centres[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim))).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(ann.KINDS))
def test_structure_round_trips_through_faiss_bytes_with_recall_close_to_one(kind):
    matrix = _clustered(3000)
    dense = DenseIndex(np.arange(3000) + 10, [None] * 3000, [f"p{i:05d}" for i in range(3000)], matrix)
    settings = ann.resolve_settings(kind, {}, dense.size)
    structure = ann.deserialise(ann.serialise(ann.build(dense.unit_matrix, settings)), settings)
    dense.attach(structure, settings)
    queries = _clustered(50, seed=1)
    approx = dense.search_arrays(queries, [None] * 50, 20)
    exact = dense.search_arrays(queries, [None] * 50, 20, exact=True)
    assert ann.recall([a for a, _ in approx], [e for e, _ in exact]) >= 0.95
    for (ids, scores), (exact_ids, exact_scores) in zip(approx, exact):
        assert len(ids) == 20 and np.all(np.diff(scores) <= 0)
        common = np.intersect1d(ids, exact_ids)  # a passage found by both has the same (canonical) score
        assert all(dict(zip(ids, scores))[c] == dict(zip(exact_ids, exact_scores))[c] for c in common)
    if kind == "ivf":
        assert settings["nlist"] == round(4 * np.sqrt(3000))


def test_ties_in_approximate_rankings_follow_ext_id_descending():
    matrix = np.repeat(_clustered(1, dim=16), 40, axis=0)  # forty identical passages: every score ties
    dense = DenseIndex(np.arange(40), [None] * 40, [f"p{i:02d}" for i in range(40)], matrix)
    settings = ann.resolve_settings("hnsw", {}, 40)
    dense.attach(ann.build(dense.unit_matrix, settings), settings)
    ids, _ = dense.search_arrays(matrix[:1], [None], 5)[0]
    assert ids.tolist() == [39, 38, 37, 36, 35]


def _topic_corpus(root):
    """400 documents in 20 topics (shared topic words), 40 queries on those topics."""
    rng = np.random.default_rng(3)
    docs = {f"d{i:03d}": " ".join([f"topic{i % 20}w{j}" for j in rng.choice(6, 3, replace=False)] + [f"u{i}"]) for i in range(400)}
    queries = {f"q{i}": f"topic{i % 20}w{i % 6} topic{i % 20}w{(i + 1) % 6}" for i in range(40)}
    return beir_folder(root, docs, queries, [(f"q{i}", f"d{i % 20:03d}", 1) for i in range(40)])


@pytest.fixture
def unscoped(cli, fake_model, tmp_path):
    cli("ingest", "beir", _topic_corpus(tmp_path / "topics"), "--name", "topics")
    return cli


def test_index_ann_stores_structure_and_eval_records_recall(unscoped, db, fake_model, monkeypatch):
    monkeypatch.setattr(ann_blobs, "CHUNK_BYTES", 4096)  # several chunks, reassembled on load
    out = unscoped("index", "--name", "hn", "--model", fake_model, "--ann", "hnsw", "--ann-params", "M=16,ef_search=64").output
    assert "hnsw structure" in out and "built and stored" in out
    params = json.loads(rows(db, "SELECT params_json FROM indexes WHERE name = 'hn'")[0][0])
    assert params["ann"] == {"kind": "hnsw", "M": 16, "ef_construction": 200, "ef_search": 64}
    assert "ann" not in params["identity"]
    (n, chunks, size), = rows(db, "SELECT n, chunks, bytes FROM ann_structures")
    assert n == 400 and chunks > 1 and size == rows(db, "SELECT sum(length(data)) FROM ann_chunks")[0][0]
    with open_store(db, write=False) as store, store.read() as conn:
        data = ann_blobs.read(conn, 1)
    assert ann.deserialise(data, params["ann"]).ntotal == 400

    before = snapshot(db)
    again = unscoped("index", "--name", "hn", "--ann", "hnsw", "--ann-params", "M=16,ef_search=64").output
    assert "already stored" in again and snapshot(db) == before  # re-run: no-op

    result = unscoped("eval", "--index", "hn", "--variants", "none", "--json")
    run_params = [json.loads(p) for (p,) in rows(db, "SELECT params_json FROM eval_runs")]
    assert run_params and all(p["ann"] == params["ann"] and 0.9 <= p["ann_recall@100"] <= 1.0 for p in run_params)
    assert [r["ann_recall@100"] for r in json.loads(result.stdout)] == [p["ann_recall@100"] for p in run_params]
    assert "recall@100 against exact" in unscoped("eval", "--index", "hn", "--variants", "none").output


def test_another_ann_replaces_the_structure_and_makes_other_eval_runs(unscoped, db, fake_model):
    unscoped("index", "--name", "x", "--model", fake_model)
    unscoped("eval", "--index", "x", "--variants", "none")
    exact_runs = rows(db, "SELECT count(*) FROM eval_runs")[0][0]
    unscoped("index", "--name", "x", "--ann", "ivf", "--ann-params", "nprobe=4")
    assert json.loads(rows(db, "SELECT settings_json FROM ann_structures")[0][0]) == {"kind": "ivf", "nlist": 80, "nprobe": 4}
    unscoped("eval", "--index", "x", "--variants", "none")
    unscoped("index", "--name", "x", "--ann", "hnsw")
    assert json.loads(rows(db, "SELECT settings_json FROM ann_structures")[0][0])["kind"] == "hnsw"
    assert rows(db, "SELECT count(*) FROM ann_structures")[0][0] == 1
    unscoped("eval", "--index", "x", "--variants", "none")
    assert rows(db, "SELECT count(*) FROM eval_runs")[0][0] == 3 * exact_runs


def test_missing_structure_is_rebuilt_by_eval(unscoped, db, fake_model):
    unscoped("index", "--name", "x", "--model", fake_model, "--ann", "ivf")
    with open_store(db) as store, store.write() as conn:
        ann_blobs.delete(conn, 1)
    unscoped("eval", "--index", "x", "--variants", "none")
    assert rows(db, "SELECT n FROM ann_structures") == [(400,)]


@pytest.mark.parametrize("args, message", [
    (["--ann", "lsh"], "--ann lsh: unknown kind (known: hnsw, ivf)"),
    (["--ann", "hnsw", "--ann-params", "M=2"], "M must be between 4 and 256"),
    (["--ann", "hnsw", "--ann-params", "nprobe=3"], "expected name=value with a name of hnsw's"),
    (["--ann", "ivf", "--ann-params", "nlist=ten"], "nlist must be a whole number"),
    (["--ann", "ivf", "--ann-params", "nlist=5000"], "more cells than the index's 400 passages"),
    (["--ann-params", "M=8"], "--ann-params: give --ann"),
])
def test_bad_ann_requests_are_refused_with_the_store_unchanged(unscoped, db, fake_model, args, message):
    unscoped("index", "--name", "x", "--model", fake_model)
    before = snapshot(db)
    result = unscoped("index", "--name", "x", "--model", fake_model, *args, ok=False)
    assert result.exit_code == 2 and message in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [result.stderr.strip().splitlines()[0]]
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(db) == before


def test_ann_on_a_scoped_dataset_is_refused(small_store, db, fake_model):
    before = snapshot(db)
    result = small_store("index", "--name", "x", "--model", fake_model, "--ann", "hnsw", ok=False)
    assert result.exit_code == 2 and "is scoped" in result.stderr and "drop --ann" in result.stderr
    assert snapshot(db) == before


def test_bad_settings_for_a_new_index_are_refused_before_it_is_built(unscoped, db, fake_model):
    before = snapshot(db)
    result = unscoped("index", "--name", "new", "--model", fake_model, "--ann", "ivf", "--ann-params", "nlist=401", ok=False)
    assert result.exit_code == 2 and "more cells than the index's 400 passages" in result.stderr
    assert snapshot(db) == before
