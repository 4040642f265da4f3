"""store.catalog: datasets and indexes found by name; every dataset kind but parallel is a retrieval one."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from xlcli.errors import XlcliError
from xlcli.store import invocations, open_store
from xlcli.store.catalog import find_index, index_status, is_retrieval, resolve_dataset, resolve_index


def _add_dataset(store, name: str, kind: str) -> None:
    with invocations.step(store, "test-dataset", {"name": name}) as inv, store.write() as conn:
        conn.execute(text("INSERT INTO datasets (name, kind, lang, invocation_id) VALUES (:n, :k, 'en', :i)"),
                     {"n": name, "k": kind, "i": inv.id})


def test_a_dataset_of_a_kind_the_catalog_never_heard_of_is_a_retrieval_dataset(tmp_path):
    assert is_retrieval("locomo") and is_retrieval("msmarco-v9") and not is_retrieval("parallel")
    with open_store(tmp_path / "s.db") as store:
        _add_dataset(store, "tatoeba-es", "parallel")
        with store.read() as conn, pytest.raises(XlcliError, match="has no dataset yet"):
            resolve_dataset(conn, None)
        _add_dataset(store, "new-format", "msmarco-v9")
        with store.read() as conn:
            assert resolve_dataset(conn, None)["name"] == "new-format"  # the parallel one is not a candidate
            assert resolve_dataset(conn, "new-format")["kind"] == "msmarco-v9"
            with pytest.raises(XlcliError, match="'tatoeba-es' is a parallel dataset"):
                resolve_dataset(conn, "tatoeba-es")
            with pytest.raises(XlcliError, match=r"no dataset 'nope' in the store \(datasets: new-format\)"):
                resolve_dataset(conn, "nope")


def test_indexes_are_found_by_name_with_their_status(small_store, db):
    small_store("index", "--name", "bm", "--bm25")
    with open_store(db, write=False) as store, store.read() as conn:
        row = resolve_index(conn, "bm")
        assert find_index(conn, "bm") == row and find_index(conn, "nope") is None
        passages = conn.execute(text("SELECT count(*) FROM passages")).scalar_one()
        assert index_status(conn, row["id"], row["dataset_id"]) == (passages, passages) and passages > 0
        with pytest.raises(XlcliError, match=r"no index 'nope' in the store \(indexes: bm\)"):
            resolve_index(conn, "nope")
