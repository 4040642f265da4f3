"""Exact batch search vs sqlite-vec KNN, deterministic ties, BM25 vs its formula, xlcli search."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from conftest import beir_folder
from hypothesis import given, settings
from hypothesis import strategies as st

from xlcli import bm25
from xlcli.models import resolve_model
from xlcli.search import DenseIndex, exact_top_k, knn, top_k
from xlcli.store import open_store
from xlcli.store.catalog import resolve_index


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6), st.integers(1, 30), st.integers(1, 35), st.integers(0, 2**31 - 1),
)
def test_top_k_orders_by_score_then_tie_key_even_at_the_cut(rows, cols, k, seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(rows, cols)).astype(np.float32)  # many ties
    tie_key = rng.permutation(cols)
    idx, top = top_k(scores, tie_key, k)
    for r in range(rows):
        expected = sorted(range(cols), key=lambda c: (-scores[r, c], tie_key[c]))[:k]
        assert idx[r].tolist() == expected
        assert top[r].tolist() == scores[r, expected].tolist()


@pytest.fixture
def fixture_store(cli, fixture_locomo, fake_model):
    """The fixture indexed with the fake encoder: exact search vs vec0 is not about the encoder."""
    cli("ingest", "locomo", fixture_locomo, "--name", "fx")
    cli("ingest", "translations", fixture_locomo.parent / "translations.jsonl")
    cli("index", "--name", "tiny", "--model", fake_model, "--device", "cpu")
    return cli


def assert_same_ranking(exact, nearest, tol=1e-6):
    """Same passages in the same order, except that two passages whose cosines differ by less than
    float32 rounding (vec0 sums in its own order) may swap places; returns whether any did."""
    assert len(exact) == len(nearest)
    np.testing.assert_allclose([s for _, s in exact], [s for _, s in nearest], atol=tol)
    swapped = False
    for (p, s), (q, t) in zip(exact, nearest):
        if p != q:
            swapped = True
            other = dict(nearest).get(p)
            assert abs(s - t) < tol and (other is None or abs(other - s) < tol), (p, s, q, t)
    return swapped


def test_exact_batch_search_ranks_like_vec0_knn(fixture_store, db):
    with open_store(db, write=False) as store, store.read() as conn:
        row = resolve_index(conn, "tiny")
        queries = conn.exec_driver_sql("SELECT text, scope FROM queries ORDER BY id").all()
        name = conn.exec_driver_sql("SELECT name FROM models WHERE id = ?", (row["model_id"],)).scalar()
        encoder = resolve_model(conn, name)[1].load("cpu")
        vectors = encoder.encode_queries([q.text for q in queries])
        exact = DenseIndex.load(conn, row)
        assert len(queries) > 500 and len({q.scope for q in queries}) == 4
        swaps = compared = 0
        for k in (10, 300):
            within = exact.search(vectors, [q.scope for q in queries], k)
            for vec, q, ranking in zip(vectors, queries, within):
                swaps += assert_same_ranking(ranking, knn(conn, row, vec, k, q.scope))
                compared += 1
        everywhere = exact.search(vectors[:50], [None] * 50, 20)
        for vec, ranking in zip(vectors[:50], everywhere):
            swaps += assert_same_ranking(ranking, knn(conn, row, vec, 20))
            compared += 1
        scope_of = dict(conn.exec_driver_sql("SELECT id, scope FROM passages").all())
    # Repeated turns and queries give equal cosines, so a few float32 near-ties are expected.
    assert swaps <= 0.05 * compared
    for q, ranking in zip(queries, within):
        assert {scope_of[p] for p, _ in ranking} == {q.scope}
        assert len(ranking) == min(300, sum(1 for s in scope_of.values() if s == q.scope))


def test_identical_passages_tie_and_are_ordered_by_ext_id_descending():
    matrix = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    index = DenseIndex(np.array([10, 11, 12, 13]), ["s"] * 4, ["c/D1:2", "c/D1:10", "c/D2:1", "c/D1:3"], matrix)
    (ranking,) = index.search(np.array([[1, 0]], dtype=np.float32), ["s"], 2)
    # D1:3 > D1:2 > D1:10 as strings: trec_eval's docno-descending order among the three ties.
    assert [p for p, _ in ranking] == [13, 10]


def fts5_bm25(docs: dict[str, str], query_terms: list[str], k1: float = 1.2, b: float = 0.75) -> dict[str, float]:
    """BM25 as SQLite documents it for FTS5's bm25() (negated): IDF = ln((N − n + 0.5)/(n + 0.5)), min 1e-6."""
    tokens = {d: t.lower().split() for d, t in docs.items()}
    n_docs, avgdl = len(docs), sum(len(t) for t in tokens.values()) / len(docs)
    scores = {}
    for d, toks in tokens.items():
        tf = Counter(toks)
        if not any(tf[q] for q in query_terms):
            continue
        total = 0.0
        for q in query_terms:
            n = sum(1 for t in tokens.values() if q in t)
            idf = max(math.log((n_docs - n + 0.5) / (n + 0.5)), 1e-6)
            total += idf * tf[q] * (k1 + 1) / (tf[q] + k1 * (1 - b + b * len(toks) / avgdl))
        scores[d] = total
    return scores


def test_bm25_scores_follow_the_fts5_formula_and_user_syntax_is_inert(cli, db, tmp_path):
    docs = {
        "d1": "the dog ran to the park with the dog",
        "d2": "a cat sat on the mat",
        "d3": "dog and cat play in the park",
        "d4": "painting the sunrise at the beach",
        "d5": "the park was closed",
        "d6": "quiet morning",
    }
    cli("ingest", "beir", beir_folder(tmp_path / "beir", docs, {"q1": "dog park"}), "--name", "tiny-beir")
    cli("index", "--name", "bm", "--bm25")
    with open_store(db, write=False) as store, store.read() as conn:
        row = resolve_index(conn, "bm")
        ext = dict(conn.exec_driver_sql("SELECT id, ext_id FROM passages").all())
        hits = bm25.search(conn, row["vec_table"], 'Dog? "PARK" AND NEAR(*) -', 10)
        expected = fts5_bm25(docs, ["dog", "park", "and", "near"])
        assert {ext[p]: s for p, s in hits} == pytest.approx(expected, abs=1e-9)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert bm25.search(conn, row["vec_table"], "?!", 10) == []
    assert bm25.match_expression('say "hi" (now)') == '"say" OR "hi" OR "now"'


def test_search_command_dense_and_bm25_with_scope(small_store, fake_model):
    small_store("index", "--name", "tiny", "--model", fake_model, "--device", "cpu")
    small_store("index", "--name", "bm", "--bm25")
    dense = json.loads(small_store("search", "What is the name of Jolene's dog?", "--index", "tiny", "--scope", "conv-a",
                                   "-k", "3", "--json", "--device", "cpu").stdout)
    assert [h["rank"] for h in dense] == [1, 2, 3] and all(h["scope"] == "conv-a" for h in dense)
    assert dense[0]["score"] >= dense[1]["score"] >= dense[2]["score"]
    lexical = json.loads(small_store("search", "Pepper chewed the cello", "--index", "bm", "--json").stdout)
    assert lexical[0]["passage"] == "conv-a/D1:3"
    table = small_store("search", "food truck", "--index", "bm", "--scope", "conv-b", "-k", "2").stdout
    assert "conv-b/D" in table and "conv-a/" not in table
    for args, message in [
        (["x", "--index", "nope"], "no index 'nope'"),
        (["x", "--index", "bm", "--scope", "conv-z"], "--scope conv-z"),
        (["x", "--index", "bm", "-k", "0"], "-k 0"),
    ]:
        result = small_store("search", *args, ok=False)
        assert result.exit_code == 2 and message in result.output


def test_search_and_eval_refuse_a_half_built_index(small_store):
    small_store("index", "--name", "half", "--bm25", "--shard", "1/2")
    for command in (["search", "Pepper chewed the cello", "--index", "half"], ["eval", "--index", "half"]):
        result = small_store(*command, ok=False)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith("Error: index 'half' is not complete") and "re-running its `xlcli index` command" in lines[0]
    small_store("index", "--name", "half", "--bm25", "--shard", "2/2")
    hits = json.loads(small_store("search", "Pepper chewed the cello", "--index", "half", "--json").stdout)
    assert hits[0]["passage"] == "conv-a/D1:3"


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8), st.integers(1, 120), st.integers(1, 60), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_exact_top_k_equals_the_full_sort_with_ties_beyond_the_margin(rows, cols, k, dim, seed):
    """Small integer vectors: every dot product is exact in float32 whatever the summation order, so
    the faiss-candidate path must equal sorting every column, ties at the cut included (with few
    distinct vectors a tie group is often far wider than the candidate margin)."""
    rng = np.random.default_rng(seed)
    matrix = np.ascontiguousarray(rng.integers(-1, 2, size=(cols, dim)).astype(np.float32))
    queries = rng.integers(-1, 2, size=(rows, dim)).astype(np.float32)
    tie_key = rng.permutation(cols)
    idx, top = exact_top_k(queries, matrix, tie_key, k)
    expected_idx, expected_top = top_k(queries @ matrix.T, tie_key, k)
    assert idx.tolist() == expected_idx.tolist()
    assert top.tolist() == expected_top.tolist()


def test_identical_passages_tie_past_the_candidate_margin_and_keep_ext_id_order():
    rng = np.random.default_rng(3)
    n = 400
    base = rng.standard_normal((5, 32)).astype(np.float32)
    matrix = base[np.arange(n) % 5]  # 80 copies of each of 5 vectors
    ext = [f"doc{i:04d}" for i in rng.permutation(n)]
    ids = np.arange(1000, 1000 + n)
    index = DenseIndex(ids, [None] * n, ext, matrix)
    queries = base[:2] + 0.01 * rng.standard_normal((2, 32)).astype(np.float32)
    for k in (3, 50, 120):
        for q, ranking in zip(queries, index.search(queries, [None, None], k)):
            best = int(np.argmax(base @ q / np.linalg.norm(base, axis=1)))
            copies = sorted((ext[i], int(ids[i])) for i in range(n) if i % 5 == best)[::-1]  # ext id descending
            assert [p for p, _ in ranking[:80]] == [pid for _, pid in copies][: min(k, 80)]
            scores = [s for _, s in ranking]
            assert scores == sorted(scores, reverse=True) and len(set(scores[: min(k, 80)])) == 1


def test_exact_search_within_scopes_equals_searching_each_scope_alone():
    rng = np.random.default_rng(4)
    n, dim = 900, 16
    matrix = rng.standard_normal((n, dim)).astype(np.float32)
    matrix[::7] = matrix[0]  # duplicates across scopes
    scopes = [f"conv-{i % 3}" for i in range(n)]
    ext = [f"conv-{i % 3}/D{i}" for i in range(n)]
    ids = np.arange(n) + 1
    index = DenseIndex(ids, scopes, ext, matrix)
    queries = rng.standard_normal((30, dim)).astype(np.float32)
    q_scopes = [f"conv-{i % 3}" if i % 4 else None for i in range(30)]
    for q, scope, ranking in zip(queries, q_scopes, index.search(queries, q_scopes, 25)):
        rows = [i for i in range(n) if scope is None or scopes[i] == scope]
        alone = DenseIndex(ids[rows], [None] * len(rows), [ext[i] for i in rows], matrix[rows])
        assert ranking == alone.search(q[None], [None], 25)[0]
        assert scope is None or {scopes[p - 1] for p, _ in ranking} == {scope}
    assert index.search(queries[:1], ["no-such-scope"], 5) == [[]]
