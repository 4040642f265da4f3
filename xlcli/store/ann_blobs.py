"""An index's approximate-search structure in the store: faiss's serialised bytes in BLOB chunks.

Why in the store and not a sidecar file: the structure is derived from the index's stored vectors
and must go with them — copying the store copies it, and a structure left stale by passages
indexed after it was built is detected (its ``passage_ids`` differ from the index's) and rebuilt.
The header row and its chunks are written in one transaction, replacing any previous structure,
so a killed build leaves the old structure or the new one, never half of one. Bytes are faiss's
own format (``faiss.serialize_index``); nothing is unpickled.
"""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import Connection

# Far below SQLite's 1e9-byte BLOB cap and small enough to copy without a memory spike.
CHUNK_BYTES = 64 << 20


def write(conn: Connection, index_id: int, settings: dict, passage_ids: np.ndarray, data: np.ndarray, invocation_id: int) -> None:
    """Replace index ``index_id``'s structure, inside the caller's transaction."""
    delete(conn, index_id)
    raw = memoryview(np.ascontiguousarray(data, dtype=np.uint8)).cast("B")
    chunks = [raw[i : i + CHUNK_BYTES] for i in range(0, len(raw), CHUNK_BYTES)] or [raw[:0]]
    conn.exec_driver_sql(
        "INSERT INTO ann_structures (index_id, settings_json, n, passage_ids, chunks, bytes, invocation_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (int(index_id), json.dumps(settings, sort_keys=True), len(passage_ids),
         np.asarray(passage_ids, dtype="<i8").tobytes(), len(chunks), len(raw), int(invocation_id)),
    )
    conn.exec_driver_sql("INSERT INTO ann_chunks (index_id, chunk, data) VALUES (?, ?, ?)",
                         [(int(index_id), i, c) for i, c in enumerate(chunks)])


def delete(conn: Connection, index_id: int) -> None:
    conn.exec_driver_sql("DELETE FROM ann_chunks WHERE index_id = ?", (int(index_id),))
    conn.exec_driver_sql("DELETE FROM ann_structures WHERE index_id = ?", (int(index_id),))


def header(conn: Connection, index_id: int) -> tuple[dict, np.ndarray] | None:
    """(settings, passage ids) of the stored structure, or None."""
    row = conn.exec_driver_sql("SELECT settings_json, passage_ids FROM ann_structures WHERE index_id = ?", (int(index_id),)).first()
    return None if row is None else (json.loads(row[0]), np.frombuffer(row[1], dtype="<i8").astype(np.int64))


def read(conn: Connection, index_id: int) -> np.ndarray | None:
    """The serialised bytes (uint8 array, filled chunk by chunk), or None when absent or incomplete."""
    row = conn.exec_driver_sql("SELECT chunks, bytes FROM ann_structures WHERE index_id = ?", (int(index_id),)).first()
    if row is None:
        return None
    data, pos, seen = np.empty(row[1], np.uint8), 0, 0
    for (blob,) in conn.exec_driver_sql("SELECT data FROM ann_chunks WHERE index_id = ? ORDER BY chunk", (int(index_id),)):
        if pos + len(blob) > len(data):
            return None
        data[pos : pos + len(blob)] = np.frombuffer(blob, dtype=np.uint8)
        pos, seen = pos + len(blob), seen + 1
    return data if (pos, seen) == (row[1], row[0]) else None
