"""Vector tables: one sqlite-vec ``vec0`` table per dense index.

The retrieval scope (the LoCoMo conversation) is a *partition key*: sqlite-vec applies a partition
filter while it chooses the top k, whereas a filter on a joined table would be applied after it
(and return fewer than k rows). Distances are cosine, so ``score = 1 − distance`` is the cosine
similarity; :mod:`xlcli.search` ranks by the same cosine.

sqlite-vec 0.1.9 facts this module respects: the dimension is fixed per table; ``INSERT OR
REPLACE`` on an existing key fails, so a write deletes then inserts; KNN is
``WHERE embedding MATCH ? AND k = ?`` (the ``LIMIT`` form needs SQLite ≥ 3.41) with k ≤ 4096.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

MAX_K = 4096
# sqlite-vec 0.1.9 gives every row whose partition key is NULL a chunk of its own (about 3 MB at
# 384 dimensions), so passages without a scope are stored under '' and read back as None.
NO_SCOPE = ""
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def table_name(index_id: int) -> str:
    return f"vec_{int(index_id)}"


def _check(table: str) -> str:
    # Table names are interpolated into SQL (DDL cannot be parameterised): only our own names.
    if not _NAME.match(table):
        raise ValueError(f"bad vector table name {table!r}")
    return table


def create(conn: Connection, table: str, dim: int) -> None:
    """Create the vec0 table if it does not exist (idempotent, for concurrent shards)."""
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {_check(table)} USING vec0("
        f"passage_id INTEGER PRIMARY KEY, scope TEXT PARTITION KEY, embedding float[{int(dim)}] distance_metric=cosine)"
    )


def drop(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_check(table)}")


def as_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def write(conn: Connection, table: str, passage_ids: Sequence[int], scopes: Sequence[str | None], vectors: np.ndarray) -> None:
    """Store vectors (replacing any a passage had), inside the caller's transaction."""
    table = _check(table)
    ids = [int(i) for i in passage_ids]
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE passage_id = ?", [(i,) for i in ids])
    conn.exec_driver_sql(
        f"INSERT INTO {table} (passage_id, scope, embedding) VALUES (?, ?, ?)",
        [(i, NO_SCOPE if s is None else s, as_blob(v)) for i, s, v in zip(ids, scopes, vectors)],
    )


@dataclass
class Vectors:
    """All vectors of an index: passage ids, scopes and a float32 matrix, in passage id order."""

    passage_ids: np.ndarray
    scopes: list[str | None]
    matrix: np.ndarray


def read_all(conn: Connection, table: str, dim: int) -> Vectors:
    """Read every vector of ``table`` once (the exact search's input)."""
    rows = conn.exec_driver_sql(f"SELECT passage_id, scope, embedding FROM {_check(table)} ORDER BY passage_id").all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim) if rows else np.zeros((0, dim), np.float32)
    return Vectors(ids, [None if r[1] == NO_SCOPE else r[1] for r in rows], matrix)


def knn(conn: Connection, table: str, query: np.ndarray, k: int, scope: str | None = None) -> list[tuple[int, float]]:
    """The ``k`` nearest passages as (passage id, cosine similarity), nearest first."""
    k = max(1, min(int(k), MAX_K))
    sql = f"SELECT passage_id, distance FROM {_check(table)} WHERE embedding MATCH :q AND k = :k"
    params = {"q": as_blob(query), "k": k}
    if scope is not None:
        sql += " AND scope = :scope"
        params["scope"] = scope
    rows = conn.execute(text(sql + " ORDER BY distance"), params).all()
    return [(int(pid), 1.0 - float(distance)) for pid, distance in rows]


def count(conn: Connection, table: str) -> int:
    return int(conn.exec_driver_sql(f"SELECT count(*) FROM {_check(table)}").scalar())
