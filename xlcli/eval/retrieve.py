"""Ranking query texts with an index: BM25 per query, dense by exact batch search.

Encoders and query vectors are cached per encoder identity within one :class:`Retriever` (one
``eval`` invocation), so indexes built with the same model (e.g. plain and QG-augmented) encode
the queries once; each dense index's vectors are read once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import text

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
        self._encoders: dict[str, object] = {}
        self._vectors: dict[str, dict[str, np.ndarray]] = {}
        self._dense: dict[int, DenseIndex] = {}

    def model_settings(self, index_row) -> ModelSettings:
        with self.store.read() as conn:
            name = conn.execute(text("SELECT name FROM models WHERE id = :i"), {"i": index_row["model_id"]}).scalar_one()
            return resolve_model(conn, name)[1]

    def query_vectors(self, settings: ModelSettings, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        key = canonical_json(settings.identity())
        cache = self._vectors.setdefault(key, {})
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            encoder = self._encoders.get(key)
            if encoder is None:
                encoder = self._encoders[key] = settings.load(self.device)
            with optional_bar(show_progress, f"Encoding queries ({settings.name})", len(missing), unit="queries") as bar:
                encoded = encoder.encode_queries(missing, batch_size=self.batch_size, on_batch=bar.advance)
            for t, v in zip(missing, encoded):
                cache[t] = v
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    def prepare(self, jobs: Sequence[tuple[dict, QuerySet]], show_progress: bool) -> None:
        """Encode every query text the dense jobs need, once per encoder, with a progress bar."""
        by_model: dict[str, tuple[ModelSettings, list[str]]] = {}
        for row, qs in jobs:
            if row["kind"] == BM25:
                continue
            settings = self.model_settings(row)
            entry = by_model.setdefault(canonical_json(settings.identity()), (settings, []))
            entry[1].extend(t for item in qs.items for _, _, t in item.texts)
        for settings, texts in by_model.values():
            self.query_vectors(settings, texts, show_progress)

    def rank(self, index_row, texts: Sequence[str], scopes: Sequence[str | None], depth: int) -> list[Ranking]:
        if index_row["kind"] == BM25:
            with self.store.read() as conn:
                return [bm25_search(conn, index_row, t, depth, s) for t, s in zip(texts, scopes)]
        dense = self._dense.get(index_row["id"])
        if dense is None:
            with self.store.read() as conn:
                dense = self._dense[index_row["id"]] = DenseIndex.load(conn, index_row)
        vectors = self.query_vectors(self.model_settings(index_row), texts)
        return dense.search(vectors, scopes, depth)
