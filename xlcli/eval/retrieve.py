"""Ranking query texts with an index: BM25 per query, dense by exact batch search.

Encoders and query vectors are cached per encoder identity and precision within one
:class:`Retriever` (one ``eval`` invocation), so indexes built with the same model (e.g. plain and
QG-augmented) encode the queries once; each dense index's vectors are read once. Queries are
encoded in the precision the index recorded (:func:`xlcli.encoders.query_precision`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from sqlalchemy import text

from xlcli import ann
from xlcli.encoders import AUTO, query_precision
from xlcli.errors import XlcliError
from xlcli.eval.querysets import QuerySet
from xlcli.models import ModelSettings, resolve_model
from xlcli.progress import optional_bar
from xlcli.search import DenseIndex, Ranking, bm25_search
from xlcli.store import Store
from xlcli.store.catalog import BM25
from xlcli.store.invocations import canonical_json


class Retriever:
    """Ranks query texts with one index; dense indexes share encoders and query vectors by model."""

    def __init__(self, store: Store, device: str = "auto", batch_size: int = 64):
        if batch_size < 1:  # checked here too for library callers: 0 or less would never end a batch
            raise XlcliError(f"--batch-size {batch_size}: must be at least 1")
        self.store, self.device, self.batch_size = store, device, batch_size
        self._encoders: dict[tuple[str, str], object] = {}
        self._vectors: dict[str, dict[tuple[str, str], np.ndarray]] = {}  # model identity → (precision, text) → vector
        self._dense: dict[int, DenseIndex] = {}
        self.invocation_id: int | None = None  # an approximate structure rebuilt here is stored under it

    def model_settings(self, index_row) -> ModelSettings:
        with self.store.read() as conn:
            name = conn.execute(text("SELECT name FROM models WHERE id = :i"), {"i": index_row["model_id"]}).scalar_one()
            return resolve_model(conn, name)[1]

    def precision(self, index_row) -> str:
        return query_precision(json.loads(index_row["params_json"]), self.device)

    def query_vectors(self, settings: ModelSettings, texts: Sequence[str], show_progress: bool = False,
                      precision: str = AUTO) -> np.ndarray:
        key = canonical_json(settings.identity())
        cache = self._vectors.setdefault(key, {})
        missing = list(dict.fromkeys(t for t in texts if (precision, t) not in cache))
        if missing:
            encoder = self._encoders.get((key, precision))
            if encoder is None:
                encoder = self._encoders[key, precision] = settings.load(self.device, precision)
            with optional_bar(show_progress, f"Encoding queries ({settings.name})", len(missing), unit="queries") as bar:
                encoded = encoder.encode_queries(missing, batch_size=self.batch_size, on_batch=bar.advance)
            for t, v in zip(missing, encoded):
                cache[precision, t] = v
        return np.stack([cache[precision, t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    def prepare(self, jobs: Sequence[tuple[dict, QuerySet]], show_progress: bool) -> None:
        """Encode every query text the dense jobs need, once per encoder, with a progress bar."""
        by_model: dict[tuple[str, str], tuple[ModelSettings, str, list[str]]] = {}
        for row, qs in jobs:
            if row["kind"] == BM25:
                continue
            settings, precision = self.model_settings(row), self.precision(row)
            entry = by_model.setdefault((canonical_json(settings.identity()), precision), (settings, precision, []))
            entry[2].extend(t for item in qs.items for _, _, t in item.texts)
        for settings, precision, texts in by_model.values():
            self.query_vectors(settings, texts, show_progress, precision)

    def rank(self, index_row, texts: Sequence[str], scopes: Sequence[str | None], depth: int) -> list[Ranking]:
        if index_row["kind"] == BM25:
            with self.store.read() as conn:
                return [bm25_search(conn, index_row, t, depth, s) for t, s in zip(texts, scopes)]
        vectors = self.query_vectors(self.model_settings(index_row), texts, precision=self.precision(index_row))
        return self._dense_index(index_row).search(vectors, scopes, depth)

    def _dense_index(self, index_row) -> DenseIndex:
        dense = self._dense.get(index_row["id"])
        if dense is None:
            with self.store.read() as conn:
                dense = self._dense[index_row["id"]] = DenseIndex.load(conn, index_row)
            ann.attach(self.store, index_row, dense, self.invocation_id)
        return dense

    def ann_recall(self, index_row, texts: Sequence[str], scopes: Sequence[str | None], depth: int) -> float | None:
        """Recall of the approximate top-``depth`` against exact, on a sample of the queries (None: exact index)."""
        if index_row["kind"] == BM25 or ann.recorded(index_row) is None:
            return None
        dense = self._dense_index(index_row)
        at = ann.sample(len(texts))
        vectors = self.query_vectors(self.model_settings(index_row), [texts[i] for i in at], precision=self.precision(index_row))
        chosen = [scopes[i] for i in at]
        approx = [ids for ids, _ in dense.search_arrays(vectors, chosen, depth)]
        exact = [ids for ids, _ in dense.search_arrays(vectors, chosen, depth, exact=True)]
        return ann.recall(approx, exact)
