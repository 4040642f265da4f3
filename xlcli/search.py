"""Retrieval over an index: exact batch search (eval), vec0 KNN (interactive search), BM25.

Scores are cosine similarities for dense indexes (the vec0 table's metric) and −bm25() for BM25
ones; higher is better. Rankings are deterministic: score descending, then passage ext id
*descending* — trec_eval's own order (``comp_sim_docno``), so a TREC export of a ranking is read
back by trec_eval / ir_measures in the same order.

Exact batch search (:class:`DenseIndex`) reads an index's vectors once, groups them by scope, and
scores queries with a matrix product in chunks, keeping the top k per query within the query's
scope (a query without a scope searches every passage). It returns the same rankings as vec0's
KNN and is much faster for thousands of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

from xlcli import bm25
from xlcli.errors import XlcliError
from xlcli.store import Store, vectors

Ranking = list[tuple[int, float]]  # (passage id, score), best first

# Keep a chunk's score matrix near 64 MiB of float32.
_CHUNK_CELLS = 1 << 24


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


@dataclass
class _Group:
    passage_ids: np.ndarray  # int64
    matrix: np.ndarray  # float32, rows L2-normalised
    tie_key: np.ndarray  # 0 for the largest ext id: sorts ties by ext id descending


def _group(passage_ids: np.ndarray, ext_ids: Sequence[str], matrix: np.ndarray) -> _Group:
    order = sorted(range(len(ext_ids)), key=lambda i: ext_ids[i], reverse=True)
    tie_key = np.empty(len(ext_ids), dtype=np.int64)
    tie_key[order] = np.arange(len(ext_ids))
    return _Group(passage_ids, np.ascontiguousarray(matrix, dtype=np.float32), tie_key)


def _sort_key(scores: np.ndarray, tie_key: np.ndarray) -> np.ndarray:
    """One uint64 per score whose ascending order is (score descending, tie key ascending).

    The float32 bits are mapped to unsigned integers in the floats' order (the usual sign-flip
    trick), reversed, and put above the tie key: one ``argsort`` instead of a two-key
    ``lexsort``, which is many times slower on small rows.
    """
    bits = (np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.uint32)  # + 0.0: -0.0 ties +0.0
    ordered = np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000))
    return ((np.uint64(0xFFFFFFFF) - ordered.astype(np.uint64)) << np.uint64(32)) | tie_key.astype(np.uint64)


def top_k(scores: np.ndarray, tie_key: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the top ``k`` per row: score desc, then ``tie_key`` asc.

    ``argpartition`` picks k candidates; a row whose k-th score is tied with columns left out is
    redone over all its columns at or above that score, so ties at the cut are broken by the key
    too, not by the partition's arbitrary choice.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0:
        return np.zeros((n_rows, 0), np.int64), np.zeros((n_rows, 0), scores.dtype)
    if k < n_cols:
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        idx = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols)).copy()
    top = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(_sort_key(top, tie_key[idx]), axis=1)
    idx, top = np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)
    if k < n_cols:
        tied = np.flatnonzero((scores >= top[:, -1:]).sum(axis=1) > k)
        for row in tied:
            cand = np.flatnonzero(scores[row] >= top[row, -1])
            best = cand[np.argsort(_sort_key(scores[row, cand], tie_key[cand]))][:k]
            idx[row], top[row] = best, scores[row, best]
    return idx, top


class DenseIndex:
    """An index's vectors in memory, grouped by scope, for exact batch search."""

    def __init__(self, passage_ids: np.ndarray, scopes: Sequence[str | None], ext_ids: Sequence[str], matrix: np.ndarray):
        self.dim = matrix.shape[1]
        self.size = len(passage_ids)
        unit = _normalise(matrix.astype(np.float32, copy=False))
        self._all = _group(passage_ids, ext_ids, unit)
        by_scope: dict[str | None, list[int]] = {}
        for i, scope in enumerate(scopes):
            by_scope.setdefault(scope, []).append(i)
        self._groups = {
            scope: _group(passage_ids[rows], [ext_ids[i] for i in rows], unit[rows])
            for scope, rows in by_scope.items()
            if scope is not None
        }

    @classmethod
    def load(cls, conn: Connection, index_row) -> DenseIndex:
        data = vectors.read_all(conn, index_row["vec_table"], index_row["dim"])
        ext = dict(conn.execute(
            text("SELECT p.id, p.ext_id FROM index_entries e JOIN passages p ON p.id = e.passage_id WHERE e.index_id = :i"),
            {"i": index_row["id"]},
        ).all())
        return cls(data.passage_ids, data.scopes, [ext[int(pid)] for pid in data.passage_ids], data.matrix)

    def search_arrays(self, queries: np.ndarray, scopes: Sequence[str | None], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (passage ids, scores) of its top k within its scope (None: over all passages)."""
        queries = _normalise(np.asarray(queries, dtype=np.float32))
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        results: list[tuple[np.ndarray, np.ndarray]] = [empty] * len(queries)
        by_scope: dict[str | None, list[int]] = {}
        for i, scope in enumerate(scopes):
            by_scope.setdefault(scope, []).append(i)
        for scope, rows in by_scope.items():
            group = self._all if scope is None else self._groups.get(scope)
            if group is None or len(group.passage_ids) == 0:
                continue  # nothing indexed in this scope: empty rankings
            chunk = max(1, _CHUNK_CELLS // max(len(group.passage_ids), 1))
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                scores = queries[part] @ group.matrix.T
                idx, top = top_k(scores, group.tie_key, k)
                pids = group.passage_ids[idx]
                for j, row in enumerate(part):
                    results[row] = (pids[j], top[j])
        return results

    def search(self, queries: np.ndarray, scopes: Sequence[str | None], k: int) -> list[Ranking]:
        """Top-k rankings [(passage id, score), ...] of each query vector within its scope."""
        return [list(zip(ids.tolist(), scores.tolist())) for ids, scores in self.search_arrays(queries, scopes, k)]


def knn(conn: Connection, index_row, query: np.ndarray, k: int, scope: str | None = None) -> Ranking:
    """vec0's KNN for one query vector (interactive search), ties by ext id descending."""
    if k > vectors.MAX_K:
        raise XlcliError(f"-k {k}: sqlite-vec returns at most {vectors.MAX_K} neighbours")
    hits = vectors.knn(conn, index_row["vec_table"], query, k, scope)
    return _order_ties(conn, hits)


def bm25_search(conn: Connection, index_row, query: str, k: int, scope: str | None = None) -> Ranking:
    return bm25.search(conn, index_row["vec_table"], query, k, scope)


def _order_ties(conn: Connection, hits: Ranking) -> Ranking:
    if not hits:
        return hits
    ext = passage_ext_ids(conn, [pid for pid, _ in hits])
    by_ext_desc = sorted(hits, key=lambda h: ext[h[0]], reverse=True)
    return sorted(by_ext_desc, key=lambda h: -h[1])


def passage_ext_ids(conn: Connection, passage_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted(set(int(p) for p in passage_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        found.update(conn.exec_driver_sql(f"SELECT id, ext_id FROM passages WHERE id IN ({marks})", tuple(part)).all())
    return found


def run_query(store: Store, index_name: str, query: str, *, k: int = 10, scope: str | None = None, device: str = "auto") -> list[dict]:
    """``xlcli search``: one query against one index, with passage ids and texts."""
    from xlcli.models import resolve_model
    from xlcli.store.catalog import BM25, require_complete, resolve_index

    if k < 1:
        raise XlcliError(f"-k {k}: must be at least 1")
    if not query.strip():
        raise XlcliError("the query is empty")
    with store.read() as conn:
        row = resolve_index(conn, index_name)
        require_complete(conn, row)
        if scope is not None:
            _check_scope(conn, row, scope)
        if row["kind"] == BM25:
            hits = bm25_search(conn, row, query, k, scope)
            settings = None
        else:
            name = conn.execute(text("SELECT name FROM models WHERE id = :i"), {"i": row["model_id"]}).scalar_one()
            settings = resolve_model(conn, name)[1]
    if settings is not None:
        vector = settings.load(device).encode_queries([query])[0]
        with store.read() as conn:
            hits = knn(conn, row, vector, k, scope)
    with store.read() as conn:
        info = {
            pid: (ext, scope_, body)
            for pid, ext, scope_, body in conn.exec_driver_sql(
                f"SELECT id, ext_id, scope, text FROM passages WHERE id IN ({','.join(str(int(p)) for p, _ in hits) or 'NULL'})"
            )
        }
    return [
        {"rank": rank, "score": score, "passage": info[pid][0], "scope": info[pid][1], "text": info[pid][2]}
        for rank, (pid, score) in enumerate(hits, start=1)
    ]


def _check_scope(conn: Connection, row, scope: str) -> None:
    found = conn.execute(
        text("SELECT 1 FROM passages WHERE dataset_id = :d AND scope = :s LIMIT 1"), {"d": row["dataset_id"], "s": scope}
    ).first()
    if found is None:
        scopes = [s for (s,) in conn.execute(
            text("SELECT DISTINCT scope FROM passages WHERE dataset_id = :d AND scope IS NOT NULL ORDER BY scope LIMIT 12"),
            {"d": row["dataset_id"]},
        )]
        listing = ", ".join(scopes) if scopes else "this dataset has no scopes"
        raise XlcliError(f"--scope {scope}: no passages in that scope (scopes: {listing})")
