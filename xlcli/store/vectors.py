"""Vector tables: one sqlite-vec ``vec0`` table per dense index.

The retrieval scope (the LoCoMo conversation) is a *partition key*: sqlite-vec applies a partition
filter while it chooses the top k, whereas a filter on a joined table would be applied after it
(and return fewer than k rows). Distances are cosine, so ``score = 1 − distance`` is the cosine
similarity; :mod:`xlcli.search` ranks by the same cosine.

sqlite-vec 0.1.9 facts this module respects: the dimension is fixed per table; ``INSERT OR
REPLACE`` on an existing key fails, so a write deletes then inserts; KNN is
``WHERE embedding MATCH ? AND k = ?`` (the ``LIMIT`` form needs SQLite ≥ 3.41) with k ≤ 4096.

Vector blocks (``vector_blocks``, migration 0003) hold the same vectors a second time, one row per
written batch: ``n`` passage ids and an ``n × dim`` float32 BLOB. vec0 keeps them in chunks that
can only be read back one row per passage (1.5 s for 100k), which made eval's single pass over an
index's vectors as slow as the search itself; a block table is read in a few thousand large BLOB
reads straight into one preallocated array. Why a table and not a sidecar ``.npy`` file: a block is
written in the *same SQLite transaction* as its vec0 rows and ``index_entries`` (see
:mod:`xlcli.index`), so a killed run leaves whole batches in both or in neither, a resumed run adds
the missing batches as new blocks, and copying the store copies everything — no second file to
keep consistent through crashes, shards writing at once, or ``cp``. The price is storing each
vector twice (4·dim bytes per passage). Blocks are trusted only when they cover exactly the
index's entries (:func:`read_index`); otherwise — an index built before migration 0003, or resumed
across it — the vectors are read from vec0 as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

from xlcli.store import blob_reader

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
    """All vectors of an index: passage ids, scopes and a float32 matrix, row by row."""

    passage_ids: np.ndarray
    scopes: list[str | None]
    matrix: np.ndarray
    ext_ids: list[str] | None = None  # filled by read_index


def read_all(conn: Connection, table: str, dim: int) -> Vectors:
    """Read every vector of ``table`` once (the exact search's input)."""
    rows = conn.exec_driver_sql(f"SELECT passage_id, scope, embedding FROM {_check(table)} ORDER BY passage_id").all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim) if rows else np.zeros((0, dim), np.float32)
    return Vectors(ids, [None if r[1] == NO_SCOPE else r[1] for r in rows], matrix)


def write_block(conn: Connection, index_id: int, passage_ids: Sequence[int], vectors: np.ndarray, invocation_id: int) -> None:
    """Append one block (a written batch) to ``vector_blocks``, inside the caller's transaction."""
    if len(passage_ids) == 0:
        return
    block = conn.exec_driver_sql(
        "SELECT coalesce(max(block) + 1, 0) FROM vector_blocks WHERE index_id = ?", (int(index_id),)
    ).scalar_one()
    conn.exec_driver_sql(
        "INSERT INTO vector_blocks (index_id, block, n, passage_ids, vectors, invocation_id) VALUES (?, ?, ?, ?, ?, ?)",
        (int(index_id), block, len(passage_ids), np.asarray(passage_ids, dtype="<i8").tobytes(),
         np.ascontiguousarray(vectors, dtype="<f4").tobytes(), int(invocation_id)),
    )


def read_blocks(conn: Connection, index_id: int, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(passage ids, matrix) from ``vector_blocks`` in block order, or None unless the blocks hold
    exactly one vector per ``index_entries`` row of the index (else vec0 is the one to read).

    The vector BLOBs are read straight into the preallocated matrix (:mod:`xlcli.store.blob_reader`)
    where the driver's SQLite allows it, else through the driver, one ``bytes`` per BLOB.
    """
    # Ids come with the listing (15,000 small BLOBs at 1M: 0.02 s); the vectors, 1.5 GB, straight
    # into the matrix. Mixing the two reads is sound because a block is never changed once written.
    blocks = conn.exec_driver_sql(
        "SELECT rowid, n, passage_ids FROM vector_blocks WHERE index_id = ? ORDER BY block", (int(index_id),)
    ).all()
    entries = conn.exec_driver_sql("SELECT count(*) FROM index_entries WHERE index_id = ?", (int(index_id),)).scalar_one()
    counts = [int(n) for _, n, _ in blocks]
    total = sum(counts)
    if total != entries or not blocks:
        return None
    if any(len(id_blob) != 8 * n for n, (_, _, id_blob) in zip(counts, blocks)):
        raise RuntimeError(f"vector_blocks of index {index_id}: a block's passage ids do not match its n")
    ids = np.frombuffer(b"".join(id_blob for _, _, id_blob in blocks), dtype="<i8").astype(np.int64)
    if not _all_distinct(ids):  # a passage written twice: the blocks are not the index's vectors
        return None
    matrix = np.empty((total, dim), np.float32)
    try:
        blob_reader.read_into(conn.engine.url.database, "vector_blocks", "vectors", matrix, [4 * n * dim for n in counts],
                              [int(rowid) for rowid, _, _ in blocks])
    except blob_reader.BlobReadError:
        _read_vectors_through_driver(conn, index_id, dim, matrix)
    return ids, matrix


def _read_vectors_through_driver(conn: Connection, index_id: int, dim: int, matrix: np.ndarray) -> None:
    flat, pos = matrix.reshape(-1), 0
    cursor = conn.exec_driver_sql("SELECT n, vectors FROM vector_blocks WHERE index_id = ? ORDER BY block", (int(index_id),))
    for n, vec_blob in cursor:
        if len(vec_blob) != 4 * n * dim or pos + n > len(matrix):
            raise RuntimeError(f"vector_blocks of index {index_id}: a block does not hold {n} × {dim} vectors")
        flat[pos * dim : (pos + n) * dim] = np.frombuffer(vec_blob, dtype="<f4")
        pos += n


def _all_distinct(ids: np.ndarray) -> bool:
    """No id twice, in O(n): passage ids are dense row ids, so a mark per id beats a sort (0.5 s at 1M)."""
    if not len(ids):
        return True
    if ids.min() < 0 or ids.max() > 16 * len(ids) + (1 << 20):  # sparse ids: the sort costs less than the marks
        return len(np.unique(ids)) == len(ids)
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    seen[ids] = True
    return int(np.count_nonzero(seen)) == len(ids)


def read_index(conn: Connection, index_row) -> Vectors:
    """Every vector of a dense index with its passage's scope and ext id: from its blocks when they
    are complete (block order), else from its vec0 table (passage id order). Eval's one read."""
    found = read_blocks(conn, index_row["id"], index_row["dim"])
    data = read_all(conn, index_row["vec_table"], index_row["dim"]) if found is None else Vectors(found[0], [], found[1])
    # One pass over the index's entries in passage id order (the primary key's), mapped to rows;
    # through the driver's cursor: plain tuples, half the time of result rows for a million entries.
    rows = conn.connection.driver_connection.execute(
        "SELECT e.passage_id, p.ext_id, p.scope FROM index_entries e JOIN passages p ON p.id = e.passage_id"
        " WHERE e.index_id = ? ORDER BY e.passage_id", (int(index_row["id"]),)
    ).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    at = np.searchsorted(ids, data.passage_ids)
    if len(at) and ((at >= len(ids)).any() or not np.array_equal(ids[at], data.passage_ids)):
        raise RuntimeError(f"index {index_row['id']}: vectors without an index entry")
    positions = at.tolist()
    data.ext_ids = [rows[i][1] for i in positions]
    if found is not None:
        data.scopes = [rows[i][2] for i in positions]
    return data


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
