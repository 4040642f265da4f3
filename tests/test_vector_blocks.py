"""Vector blocks (migration 0003): eval's one read of an index, consistent with vec0, old stores fall back."""

from __future__ import annotations

import numpy as np
import pytest

from xlcli.search import DenseIndex
from xlcli.store import blob_reader, engine, open_store, vectors


def _index_row(conn, name: str):
    return conn.exec_driver_sql("SELECT * FROM indexes WHERE name = ?", (name,)).mappings().one()


def _by_passage(data: vectors.Vectors) -> dict[int, tuple[str | None, list[float]]]:
    return {int(p): (s, v.tolist()) for p, s, v in zip(data.passage_ids, data.scopes, data.matrix)}


def _rankings(conn, row, queries: np.ndarray, scopes: list) -> list:
    return DenseIndex.load(conn, row).search(queries, scopes, 7)


def test_blocks_hold_exactly_the_vec0_vectors_and_the_search_reads_them(small_store, db, tiny_bert):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "3", "--device", "cpu")
    with open_store(db, write=False) as store, store.read() as conn:
        row = _index_row(conn, "tiny")
        blocks = conn.exec_driver_sql("SELECT count(*), sum(n), max(n) FROM vector_blocks WHERE index_id = ?", (row["id"],)).one()
        entries = conn.exec_driver_sql("SELECT count(*) FROM index_entries WHERE index_id = ?", (row["id"],)).scalar()
        assert blocks[1] == entries and blocks[2] == 3 and blocks[0] == -(-entries // 3)  # one block per written batch
        fast, slow = vectors.read_index(conn, row), vectors.read_all(conn, row["vec_table"], row["dim"])
        assert fast.matrix.flags.c_contiguous and fast.matrix.dtype == np.float32
        assert sorted(fast.passage_ids.tolist()) == slow.passage_ids.tolist()
        assert _by_passage(fast) == _by_passage(slow)  # bit for bit, scopes included
        scopes = [s for s in slow.scopes[:12]]
        from_vec0 = DenseIndex(slow.passage_ids, slow.scopes,
                               [conn.exec_driver_sql("SELECT ext_id FROM passages WHERE id = ?", (int(p),)).scalar() for p in slow.passage_ids],
                               slow.matrix)
        assert _rankings(conn, row, slow.matrix[:12], scopes) == from_vec0.search(slow.matrix[:12], scopes, 7)


def test_an_index_built_before_the_blocks_or_resumed_across_them_is_read_from_vec0(small_store, db, tiny_bert):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "4", "--device", "cpu", "--shard", "1/2")
    with open_store(db) as store:
        with store.write() as conn:  # the store as an xlcli before migration 0003 left it
            conn.exec_driver_sql("DROP TABLE vector_blocks")
            conn.exec_driver_sql("DELETE FROM xlcli_migrations WHERE version = 3")
    with open_store(db) as store, store.read() as conn:  # opening it applies 0003: no blocks yet
        row = _index_row(conn, "tiny")
        assert conn.exec_driver_sql("SELECT count(*) FROM vector_blocks").scalar() == 0
        assert vectors.read_blocks(conn, row["id"], row["dim"]) is None
        half = vectors.read_index(conn, row)
        assert _by_passage(half) == _by_passage(vectors.read_all(conn, row["vec_table"], row["dim"]))
    # The rest of the index after the upgrade: blocks for half the entries only, so vec0 is read.
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "4", "--device", "cpu", "--shard", "2/2")
    with open_store(db, write=False) as store, store.read() as conn:
        row = _index_row(conn, "tiny")
        covered = conn.exec_driver_sql("SELECT sum(n) FROM vector_blocks").scalar()
        entries = conn.exec_driver_sql("SELECT count(*) FROM index_entries WHERE index_id = ?", (row["id"],)).scalar()
        assert 0 < covered < entries and row["status"] == "done"
        assert vectors.read_blocks(conn, row["id"], row["dim"]) is None
        full = vectors.read_index(conn, row)
        assert len(full.passage_ids) == entries
        assert _by_passage(full) == _by_passage(vectors.read_all(conn, row["vec_table"], row["dim"]))
        queries = full.matrix[:10]
        assert all(len(r) == 7 for r in _rankings(conn, row, queries, [None] * 10))


def test_blocks_that_do_not_match_the_entries_are_not_trusted(small_store, db, tiny_bert):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "5", "--device", "cpu")
    with open_store(db) as store:
        with store.read() as conn:
            row = _index_row(conn, "tiny")
            first = conn.exec_driver_sql("SELECT passage_ids, vectors, invocation_id FROM vector_blocks WHERE block = 0").one()
        with store.write() as conn:  # a passage's vector in two blocks and one block gone: same count, not the index
            conn.exec_driver_sql("DELETE FROM vector_blocks WHERE block = 1")
            ids = np.frombuffer(first.passage_ids, dtype="<i8")
            vectors.write_block(conn, row["id"], ids, np.frombuffer(first.vectors, dtype="<f4").reshape(len(ids), -1), first.invocation_id)
        with store.read() as conn:
            assert vectors.read_blocks(conn, row["id"], row["dim"]) is None
            assert _by_passage(vectors.read_index(conn, row)) == _by_passage(vectors.read_all(conn, row["vec_table"], row["dim"]))


def _blocks_by_driver(conn, index_id: int) -> tuple[list[int], list[bytes]]:
    rows = conn.exec_driver_sql("SELECT rowid, vectors FROM vector_blocks WHERE index_id = ? ORDER BY block", (index_id,)).all()
    return [r[0] for r in rows], [r[1] for r in rows]


def test_blobs_are_read_straight_into_the_array_as_the_driver_reads_them(small_store, db, tiny_bert):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "3", "--device", "cpu")
    assert blob_reader.available()  # the driver's own SQLite exports its incremental BLOB API here
    with open_store(db, write=False) as store, store.read() as conn:
        row = _index_row(conn, "tiny")
        rowids, blobs = _blocks_by_driver(conn, row["id"])
    expected = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    for workers in (1, 2, 3, 64):  # more workers than rows too
        out = np.full(len(expected), 7, dtype=np.uint8)
        blob_reader.read_into(db, "vector_blocks", "vectors", out, [len(b) for b in blobs], rowids, workers=workers)
        assert np.array_equal(out, expected)


def test_a_blob_of_another_length_or_a_missing_row_is_refused_before_anything_is_read(small_store, db, tiny_bert):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "3", "--device", "cpu")
    with open_store(db, write=False) as store, store.read() as conn:
        rowids, blobs = _blocks_by_driver(conn, _index_row(conn, "tiny")["id"])
    sizes = [len(b) for b in blobs]
    short = [*sizes[:1], sizes[1] - 4, *sizes[2:]]  # the caller expects one vector component less in row 2
    out = np.zeros(sum(short), dtype=np.uint8)
    with pytest.raises(blob_reader.BlobReadError, match="is not"):
        blob_reader.read_into(db, "vector_blocks", "vectors", out, short, rowids, workers=1)
    assert not out[sizes[0]:].any()  # row 1 was read, row 2 was not: nothing written past what was asked
    out = np.zeros(sum(sizes), dtype=np.uint8)
    with pytest.raises(blob_reader.BlobReadError, match="no row"):
        blob_reader.read_into(db, "vector_blocks", "vectors", out, sizes, [*rowids[:-1], max(rowids) + 1000])
    with pytest.raises(ValueError, match="exactly"):
        blob_reader.read_into(db, "vector_blocks", "vectors", out[:-1], sizes, rowids)


def test_without_the_blob_api_the_blocks_are_read_through_the_driver_to_the_same_matrix(small_store, db, tiny_bert, monkeypatch):
    small_store("index", "--name", "tiny", "--model", tiny_bert, "--batch-size", "4", "--device", "cpu")
    with open_store(db, write=False) as store, store.read() as conn:
        row = _index_row(conn, "tiny")
        direct = vectors.read_blocks(conn, row["id"], row["dim"])
        monkeypatch.setattr(blob_reader, "_library", lambda: None)  # a driver whose SQLite hides the symbols
        assert not blob_reader.available()
        through_driver = vectors.read_blocks(conn, row["id"], row["dim"])
    assert np.array_equal(direct[0], through_driver[0]) and np.array_equal(direct[1], through_driver[1])
    assert direct[1].tobytes() == b"".join(_blocks_by_driver_on(db, row["id"]))


def _blocks_by_driver_on(db, index_id: int) -> list[bytes]:
    with open_store(db, write=False) as store, store.read() as conn:
        return _blocks_by_driver(conn, index_id)[1]


def test_new_stores_get_16k_pages_and_older_stores_keep_theirs(tmp_path):
    from xlcli.store.driver import sqlite_module

    with open_store(tmp_path / "new.db") as store, store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == engine.PAGE_SIZE == 16_384
    old = tmp_path / "old.db"
    raw = sqlite_module().connect(str(old))
    raw.execute("PRAGMA page_size = 4096")
    raw.execute("CREATE TABLE placeholder (x)")  # written: its page size is now fixed
    raw.execute("DROP TABLE placeholder")
    raw.commit()
    raw.close()
    with open_store(old) as store, store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("SELECT count(*) FROM xlcli_migrations").scalar() > 0
