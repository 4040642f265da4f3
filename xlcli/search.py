"""Retrieval over an index: exact batch search (eval), vec0 KNN (interactive search), BM25.

Scores are cosine similarities for dense indexes (the vec0 table's metric) and −bm25() for BM25
ones; higher is better. Rankings are deterministic: score descending, then passage ext id
*descending* — trec_eval's own order (``comp_sim_docno``), so a TREC export of a ranking is read
back by trec_eval / ir_measures in the same order.

Exact batch search (:class:`DenseIndex`) reads an index's vectors once, groups them by scope, and
keeps the top k per query within the query's scope (a query without a scope searches every
passage). It returns the same rankings as vec0's KNN and is much faster for thousands of queries.

How it stays exact at faiss's speed: faiss's brute-force ``knn`` (Johnson et al., "Billion-scale
similarity search with GPUs", 2017; cache-blocked BLAS products with a fused heap, no score
matrix) proposes the top ``k + margin`` candidates of each query. Their scores are then computed
again, one pair at a time, by faiss's ``fvec_inner_product`` kernel: that *canonical* score
depends on the two vectors only — not on how queries were batched, which changes a BLAS
product's rounding — so identical passages always tie and the tie rule above applies to them.
Both scores are float32 dot products of the same unit vectors, so they differ by at most
``2·γ_d`` (γ_d = d·2⁻²⁴, the summation bound; :data:`_SLACK`). A query whose k-th canonical score
is not above the worst candidate's search score plus that slack might have a tied or better
passage outside its candidates (a tie at the k-th score, or rounding); its candidates are doubled
until the bound holds or every passage is a candidate, so ties at the cut are resolved by ext id
over the whole scope, never by faiss's arbitrary choice among equal scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

from xlcli import bm25
from xlcli.errors import XlcliError
from xlcli.store import Store, vectors

Ranking = list[tuple[int, float]]  # (passage id, score), best first

# Candidates beyond k per query: enough that a float32 rounding difference (a gap of ~1e-5
# between the k-th and the (k + margin)-th score) rarely needs a second search.
_MARGIN = 16


def _slack(dim: int) -> float:
    """Worst difference between two float32 dot products of the same unit vectors (2·γ_d, with room for the norms' rounding)."""
    gamma = dim * 2.0**-24 / (1 - dim * 2.0**-24)
    return 2.0 * gamma * 1.001 + 2.0**-23


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


def canonical_scores(queries: np.ndarray, matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``queries[i] · matrix[columns[i, j]]`` by faiss's per-pair kernel (the scores rankings report)."""
    import faiss

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    out = np.empty(columns.shape, np.float32)
    if out.size:
        faiss.fvec_inner_products_by_idx(
            faiss.swig_ptr(out), faiss.swig_ptr(queries), faiss.swig_ptr(matrix), faiss.swig_ptr(columns),
            matrix.shape[1], columns.shape[0], columns.shape[1],
        )
    return out


def exact_top_k(queries: np.ndarray, matrix: np.ndarray, tie_key: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``matrix`` (float32, C-contiguous) with the top ``k`` canonical scores per query,
    ordered by score descending then ``tie_key`` ascending; exact (see the module docstring)."""
    import faiss

    n = matrix.shape[0]
    k = min(k, n)
    slack = _slack(matrix.shape[1])
    idx = np.zeros((len(queries), k), np.int64)
    top = np.zeros((len(queries), k), np.float32)
    pending, width = np.arange(len(queries)), min(n, k + _MARGIN)
    while len(pending):
        search_scores, cand = faiss.knn(queries[pending], matrix, width, metric=faiss.METRIC_INNER_PRODUCT)
        scores = canonical_scores(queries[pending], matrix, cand)
        order = np.argsort(_sort_key(scores, tie_key[cand]), axis=1)[:, :k]
        chosen, best = np.take_along_axis(cand, order, axis=1), np.take_along_axis(scores, order, axis=1)
        # Passages left out scored at most the last candidate's search score, so at most that
        # plus the slack canonically: below the k-th score means none of them can tie or beat it.
        safe = np.ones(len(pending), bool) if width == n else best[:, -1].astype(np.float64) > search_scores[:, -1] + slack
        idx[pending[safe]], top[pending[safe]] = chosen[safe], best[safe]
        pending, width = pending[~safe], min(n, width * 2)
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
        self.ann: dict | None = None  # settings of the attached approximate structure (xlcli.ann)
        self._structure = None

    @property
    def passage_ids(self) -> np.ndarray:
        """Passage id of each row of :attr:`unit_matrix`."""
        return self._all.passage_ids

    @property
    def unit_matrix(self) -> np.ndarray:
        """Every vector, L2-normalised, in one float32 array (what an approximate structure is built over)."""
        return self._all.matrix

    def attach(self, structure, settings: dict) -> None:
        """Search unscoped queries through ``structure`` (built over :attr:`unit_matrix`) from now on."""
        self._structure, self.ann = structure, settings

    @classmethod
    def load(cls, conn: Connection, index_row) -> DenseIndex:
        data = vectors.read_index(conn, index_row)
        return cls(data.passage_ids, data.scopes, data.ext_ids, data.matrix)

    def search_arrays(self, queries: np.ndarray, scopes: Sequence[str | None], k: int,
                      exact: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (passage ids, scores) of its top k within its scope (None: over all passages).

        With a structure attached, unscoped queries go through it unless ``exact``."""
        queries = np.ascontiguousarray(_normalise(np.asarray(queries, dtype=np.float32)))
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        results: list[tuple[np.ndarray, np.ndarray]] = [empty] * len(queries)
        by_scope: dict[str | None, list[int]] = {}
        for i, scope in enumerate(scopes):
            by_scope.setdefault(scope, []).append(i)
        for scope, rows in by_scope.items():
            group = self._all if scope is None else self._groups.get(scope)
            if group is None or len(group.passage_ids) == 0 or k < 1:
                continue  # nothing indexed in this scope: empty rankings
            if scope is None and self._structure is not None and not exact:
                for row, (idx, top) in zip(rows, self._approx_top_k(queries[rows], k)):
                    results[row] = (group.passage_ids[idx], top)
                continue
            idx, top = exact_top_k(queries[rows], group.matrix, group.tie_key, k)
            pids = group.passage_ids[idx]
            for j, row in enumerate(rows):
                results[row] = (pids[j], top[j])
        return results

    def _approx_top_k(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The structure's candidates, scored canonically and ordered by the exact path's tie rule.

        As in :func:`exact_top_k`, a query whose k-th score is within the slack of its worst
        candidate's may have tied passages outside the candidates: its candidates are doubled (up to
        every passage) so that ties at the cut are ordered by ext id over what the structure finds.
        """
        from xlcli import ann

        group, slack = self._all, _slack(self.dim)
        out: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(queries)
        pending, width = np.arange(len(queries)), min(self.size, k + _MARGIN)
        while len(pending):
            search_scores, cand = ann.candidates(self._structure, self.ann, queries[pending], width)
            found = cand >= 0  # faiss pads with -1 when it finds fewer than asked
            safe_cand = np.where(found, cand, 0)
            scores = canonical_scores(queries[pending], group.matrix, safe_cand)
            key = _sort_key(scores, group.tie_key[safe_cand])
            key[~found] = np.iinfo(np.uint64).max  # padding sorts last
            order = np.argsort(key, axis=1)
            retry = []
            for j, q in enumerate(pending):
                keep = order[j][found[j, order[j]]][:k]
                last = search_scores[j][found[j]][-1:] if found[j].any() else None
                if width < self.size and found[j].all() and len(keep) == k and last is not None \
                        and float(scores[j, keep[-1]]) <= float(last[0]) + slack:
                    retry.append(q)
                    continue
                out[q] = (cand[j, keep], scores[j, keep])
            pending, width = np.asarray(retry, np.int64), min(self.size, width * 2)
        return out

    def search(self, queries: np.ndarray, scopes: Sequence[str | None], k: int, exact: bool = False) -> list[Ranking]:
        """Top-k rankings [(passage id, score), ...] of each query vector within its scope."""
        return [list(zip(ids.tolist(), scores.tolist())) for ids, scores in self.search_arrays(queries, scopes, k, exact)]


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
    from xlcli.encoders import query_precision
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
        vector = settings.load(device, query_precision(json.loads(row["params_json"]), device)).encode_queries([query])[0]
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
