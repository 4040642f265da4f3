"""Approximate nearest-neighbour structures (faiss HNSW, IVF) over a finished dense index.

Opt-in, for unscoped corpora of millions of passages, where exact search (:mod:`xlcli.search`)
costs O(passages) per query. Two kinds, one registry (:data:`KINDS`) that ``--ann``'s help text
and validation read:

- ``hnsw``: ``faiss.IndexHNSWFlat`` with inner product (Malkov & Yashunin, "Efficient and robust
  approximate nearest neighbor search using Hierarchical Navigable Small World graphs", 2016).
- ``ivf``: ``faiss.IndexIVFFlat`` with inner product, ``nlist`` ≈ 4·√n k-means cells of which
  ``nprobe`` are scanned (Jégou et al., "Product quantization for nearest neighbor search", 2011).

Vectors are the index's stored, L2-normalised vectors, so inner product is the cosine exact
search ranks by. A structure only *proposes* ``k + margin`` candidates per query; their scores
are the same canonical per-pair scores exact search reports, and they are ordered by the same
rule (score descending, ext id descending), so an approximate ranking differs from the exact one
only by passages the structure missed, never by tie order. :func:`recall` measures that loss.

A structure is built once and stored (:mod:`xlcli.store.ann_blobs`): HNSW's multi-threaded
insertion does not give the same graph twice, so eval reads the stored one, and runs computed
from it are reproducible from the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xlcli.errors import XlcliError


@dataclass(frozen=True)
class Param:
    default: int | None  # None: derived from the corpus size (see AnnKind.resolve)
    low: int
    high: int
    help: str


@dataclass(frozen=True)
class AnnKind:
    """One ``--ann`` kind: its parameters, how to build the structure, how to set search-time ones."""

    help: str
    params: dict[str, Param]
    build: Callable[[np.ndarray, dict], object]
    tune: Callable[[object, dict], None]  # search-time parameters on a (de)serialised structure

    def resolve(self, given: dict[str, int], n: int) -> dict[str, int]:
        values = {name: p.default for name, p in self.params.items()} | given
        if "nlist" in values and values["nlist"] is None:
            values["nlist"] = max(1, min(n, round(4 * math.sqrt(n))))
        return values


def _build_hnsw(matrix: np.ndarray, p: dict):
    import faiss

    index = faiss.IndexHNSWFlat(matrix.shape[1], p["M"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = p["ef_construction"]
    index.add(matrix)
    return index


def _tune_hnsw(index, p: dict) -> None:
    index.hnsw.efSearch = p["ef_search"]


def _build_ivf(matrix: np.ndarray, p: dict):
    import faiss

    quantizer = faiss.IndexFlatIP(matrix.shape[1])
    index = faiss.IndexIVFFlat(quantizer, matrix.shape[1], p["nlist"], faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1234  # k-means seeded: the same vectors give the same cells
    index.cp.min_points_per_centroid = 1  # small corpora: no warning on stderr (4·√n cells want n ≥ 39·nlist otherwise)
    index.train(matrix)
    index.add(matrix)
    return index


def _tune_ivf(index, p: dict) -> None:
    index.nprobe = min(p["nprobe"], p["nlist"])


KINDS: dict[str, AnnKind] = {
    "hnsw": AnnKind(
        "faiss IndexHNSWFlat (graph; inner product)",
        {"M": Param(32, 4, 256, "graph neighbours per node"),
         "ef_construction": Param(200, 8, 4096, "candidate list while building"),
         "ef_search": Param(256, 1, 32768, "candidate list while searching (≥ k + 16 is used)")},
        _build_hnsw, _tune_hnsw,
    ),
    "ivf": AnnKind(
        "faiss IndexIVFFlat (k-means cells; inner product)",
        {"nlist": Param(None, 1, 1 << 20, "cells (default ≈ 4·√passages)"),
         "nprobe": Param(32, 1, 1 << 20, "cells scanned per query")},
        _build_ivf, _tune_ivf,
    ),
}

# Below this many passages a structure saves nothing over exact search and IVF cannot train.
MIN_PASSAGES = 2


def kinds_help() -> str:
    def shown(p: Param) -> str:
        return "auto" if p.default is None else str(p.default)

    return "; ".join(f"{name}: {', '.join(f'{p}={shown(v)}' for p, v in k.params.items())}" for name, k in KINDS.items())


def parse(kind: str, params: str | None) -> tuple[str, dict[str, int]]:
    """``--ann KIND [--ann-params k=v,...]`` → (kind, the parameters given), validated; no corpus needed."""
    if kind not in KINDS:
        raise XlcliError(f"--ann {kind}: unknown kind (known: {', '.join(KINDS)})")
    spec = KINDS[kind]
    given: dict[str, int] = {}
    for part in (p.strip() for p in (params or "").split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in spec.params:
            raise XlcliError(f"--ann-params {part}: expected name=value with a name of {kind}'s ({', '.join(spec.params)})")
        if not value.isdigit():
            raise XlcliError(f"--ann-params {part}: {name} must be a whole number")
        p = spec.params[name]
        if not p.low <= int(value) <= p.high:
            raise XlcliError(f"--ann-params {part}: {name} must be between {p.low} and {p.high}")
        given[name] = int(value)
    return kind, given


def resolve_settings(kind: str, given: dict[str, int], n: int) -> dict:
    """The full settings recorded in the index's params (``{"kind": ..., name: value, ...}``) for ``n`` passages."""
    if n < MIN_PASSAGES:
        raise XlcliError(f"--ann {kind}: the index holds {n} passage(s); approximate search needs at least {MIN_PASSAGES}")
    values = KINDS[kind].resolve(given, n)
    if "nlist" in values and values["nlist"] > n:
        raise XlcliError(f"--ann-params nlist={values['nlist']}: more cells than the index's {n:,} passages")
    return {"kind": kind, **values}


def build(matrix: np.ndarray, ann: dict):
    """A faiss structure over ``matrix`` (float32, unit rows) with ``ann``'s settings."""
    spec = KINDS[ann["kind"]]
    structure = spec.build(np.ascontiguousarray(matrix, dtype=np.float32), ann)
    spec.tune(structure, ann)
    return structure


def serialise(structure) -> np.ndarray:
    """The structure as bytes (a uint8 array) by faiss's own writer (never pickle)."""
    import faiss

    return faiss.serialize_index(structure)


def deserialise(data: np.ndarray, ann: dict):
    import faiss

    structure = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
    KINDS[ann["kind"]].tune(structure, ann)
    return structure


def candidates(structure, ann: dict, queries: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(search scores, row indices) of ``width`` candidates per query (row −1 where the structure found fewer)."""
    if ann["kind"] == "hnsw":  # the candidate list must hold what is asked for
        structure.hnsw.efSearch = max(ann["ef_search"], width)
    return structure.search(np.ascontiguousarray(queries, dtype=np.float32), width)


def recall(approx: list[np.ndarray], exact: list[np.ndarray]) -> float:
    """Mean over queries of |approximate top-k ∩ exact top-k| / |exact top-k| (1.0 with no queries)."""
    parts = [len(np.intersect1d(a, e)) / len(e) for a, e in zip(approx, exact) if len(e)]
    return float(np.mean(parts)) if parts else 1.0


def sample(n: int, size: int = 100) -> np.ndarray:
    """Evenly spaced positions of at most ``size`` of ``n`` queries (deterministic, no seed to record)."""
    return np.unique(np.linspace(0, n - 1, num=min(n, size)).round().astype(np.int64)) if n else np.zeros(0, np.int64)


# --- an index's structure: validated, built, stored, attached ------------------------------------

def recorded(index_row) -> dict | None:
    """The ``ann`` settings recorded in an index's params (None: exact search only)."""
    import json

    return json.loads(index_row["params_json"]).get("ann")


def check_request(store, name: str, dataset: str | None, kind: str, params: str | None) -> tuple[str, dict[str, int]]:
    """Everything ``index --ann`` can refuse before the store is written: the kind, the parameters,
    a scoped dataset (search within a scope of a few thousand passages is exact and fast already)."""
    from sqlalchemy import text

    from xlcli.index import _dataset_for

    parsed = parse(kind, params)
    ds, _ = _dataset_for(store, name, dataset)
    with store.read() as conn:
        scopes, n = conn.execute(text("SELECT count(DISTINCT scope), count(*) FROM passages WHERE dataset_id = :d"),
                                 {"d": ds["id"]}).one()
    if scopes:
        raise XlcliError(
            f"--ann {kind}: dataset {ds['name']!r} is scoped ({scopes:,} scopes, e.g. LoCoMo conversations); queries search "
            "within their scope, where exact search is already fast — drop --ann"
        )
    resolve_settings(*parsed, n)  # e.g. more IVF cells than passages: refused before the index is built
    return parsed


def finished(store, name: str) -> bool:
    """Whether index ``name`` exists and holds every passage of its dataset."""
    from xlcli.store.catalog import find_index

    with store.read() as conn:
        row = find_index(conn, name)
    return row is not None and row["status"] == "done"


def _structure_for(conn, index_row, dense, settings: dict):
    """The stored structure when it was built with ``settings`` over exactly ``dense``'s rows, else None."""
    from xlcli.store import ann_blobs

    head = ann_blobs.header(conn, index_row["id"])
    if head is None or head[0] != settings or not np.array_equal(head[1], dense.passage_ids):
        return None
    data = ann_blobs.read(conn, index_row["id"])
    return None if data is None else deserialise(data, settings)


def attach(store, index_row, dense, invocation_id: int | None = None) -> bool:
    """Attach the index's recorded structure to ``dense`` (a :class:`~xlcli.search.DenseIndex`),
    rebuilding it when missing or stale (and storing it under ``invocation_id`` when given)."""
    from xlcli.store import ann_blobs

    settings = recorded(index_row)
    if settings is None:
        return False
    with store.read() as conn:
        structure = _structure_for(conn, index_row, dense, settings)
    if structure is None:
        structure = build(dense.unit_matrix, settings)
        if invocation_id is not None:
            with store.write() as conn:
                ann_blobs.write(conn, index_row["id"], settings, dense.passage_ids, serialise(structure), invocation_id)
    dense.attach(structure, settings)
    return True


def build_for_index(store, name: str, kind: str, given: dict[str, int]) -> tuple[dict, bool]:
    """Build (or find) the structure of finished dense index ``name``: (settings, built now).

    The settings join the index's params under ``ann`` (not its identity: the vectors do not depend
    on them); another ``--ann`` replaces the structure. Re-running with the same settings is a no-op.
    """
    import json

    from sqlalchemy import text

    from xlcli.search import DenseIndex
    from xlcli.store import ann_blobs, invocations
    from xlcli.store.catalog import DENSE, require_complete, resolve_index

    with store.read() as conn:
        row = dict(resolve_index(conn, name))
        if row["kind"] != DENSE:
            raise XlcliError(f"--ann {kind}: index {name!r} is a {row['kind']} index; approximate search is for dense ones")
        require_complete(conn, row)
        dense = DenseIndex.load(conn, row)
    settings = resolve_settings(kind, given, dense.size)
    with store.read() as conn:
        if recorded(row) == settings and _structure_for(conn, row, dense, settings) is not None:
            return settings, False
    params = {"index": name, "ann": settings, "passages": [dense.size, int(dense.passage_ids.max())]}
    with invocations.step(store, "ann", params, exclusive=True) as inv:
        structure = build(dense.unit_matrix, settings)
        data = serialise(structure)
        with store.write() as conn:
            stored = json.loads(conn.execute(text("SELECT params_json FROM indexes WHERE id = :i"), {"i": row["id"]}).scalar_one())
            conn.execute(text("UPDATE indexes SET params_json = :p WHERE id = :i"),
                         {"p": invocations.canonical_json({**stored, "ann": settings}), "i": row["id"]})
            ann_blobs.write(conn, row["id"], settings, dense.passage_ids, data, inv.id)
        inv.summary = {"passages": dense.size, "bytes": len(data)}
    return settings, True
