"""ingest ir-datasets: a local dataset built through ir_datasets' API (no download)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from irds_local import DOCS, register_local

from xlcli.datasets import ir_datasets as reader
from xlcli.ingest_stream import ingest_source
from xlcli.store import open_store


def _rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _content(db) -> dict:
    """Every ingested row, without row ids and invocation ids (two stores compare equal on content)."""
    return {
        "passages": _rows(db, "SELECT ext_id, lang, title, text FROM passages ORDER BY ext_id"),
        "queries": _rows(db, "SELECT ext_id, lang, split, text FROM queries ORDER BY ext_id"),
        "qrels": _rows(db, "SELECT q.ext_id, p.ext_id, r.relevance FROM qrels r JOIN queries q ON q.id = r.query_id"
                           " JOIN passages p ON p.id = r.passage_id ORDER BY 1, 2"),
        "datasets": _rows(db, "SELECT name, kind, lang, metadata_json FROM datasets"),
    }


def test_local_dataset_passages_queries_graded_qrels(cli, db, tmp_path):
    dataset_id = register_local(tmp_path / "irds")
    summary = json.loads(cli("ingest", "ir-datasets", dataset_id, "--name", "local", "--json").stdout)
    assert summary["added"] == {"passages": 4, "queries": 3, "translations": 0, "qrels": 5}
    content = _content(db)
    # Title kept apart from the text (the index joins them, as for BEIR); an empty title is NULL.
    assert content["passages"][0] == ("d1", "es", "Perros", "El perro de Jolene se llama Pepper.")
    assert ("d4", "es", None, "Tomás vende tacos en el puerto.") in content["passages"]
    # Graded judgements kept as graded, the judged-non-relevant 0 too; d9 (not in the corpus) dropped.
    assert content["qrels"] == [("q1", "d1", 2), ("q2", "d1", 0), ("q2", "d2", 1), ("q3", "d3", 1), ("q3", "d4", 2)]
    # q4 has no judgements: not ingested, and said so.
    assert [q[0] for q in content["queries"]] == ["q1", "q2", "q3"]
    assert {q[2] for q in content["queries"]} == {"test"}
    dropped = summary["notes"]["dropped"]
    assert dropped["judgement of a document missing from the corpus"]["count"] == 1
    assert any("without judgements" in reason for reason in dropped)
    name, kind, lang, metadata = content["datasets"][0]
    assert (name, kind, lang) == ("local", "ir_datasets", "es")
    assert json.loads(metadata)["ir_datasets_id"] == dataset_id


def test_reingest_adds_nothing_and_changes_nothing(cli, db, tmp_path):
    dataset_id = register_local(tmp_path / "irds")
    cli("ingest", "ir-datasets", dataset_id, "--name", "local")
    before = _content(db), _rows(db, "SELECT count(*) FROM invocations")
    again = json.loads(cli("ingest", "ir-datasets", dataset_id, "--name", "local", "--json").stdout)
    assert again["already_done"] is True
    assert (_content(db), _rows(db, "SELECT count(*) FROM invocations")) == before


def test_overlapping_dataset_adds_only_new_documents(cli, db, tmp_path):
    first = register_local(tmp_path / "a", docs=DOCS[:2])
    cli("ingest", "ir-datasets", first, "--name", "local")
    second = register_local(tmp_path / "b")
    summary = json.loads(cli("ingest", "ir-datasets", second, "--name", "local", "--json").stdout)
    assert summary["added"]["passages"] == 2 and summary["skipped"]["passages"] == 2
    assert len(_content(db)["passages"]) == 4


def test_topics_use_their_title_unless_a_field_is_named(cli, db, tmp_path):
    dataset_id = register_local(tmp_path / "irds", topics=True)
    cli("ingest", "ir-datasets", dataset_id, "--name", "titles")
    assert _rows(db, "SELECT text FROM queries WHERE ext_id = 'q1'") == [("¿cómo se llama el perro?",)]
    cli("ingest", "ir-datasets", dataset_id, "--name", "descriptions", "--query-field", "description")
    texts = _rows(db, "SELECT q.text FROM queries q JOIN datasets d ON d.id = q.dataset_id WHERE d.name = 'descriptions' AND ext_id = 'q1'")
    assert texts == [("Find documents about: ¿cómo se llama el perro?",)]


def test_queries_lang_overrides_the_dataset(cli, db, tmp_path):
    dataset_id = register_local(tmp_path / "irds")
    cli("ingest", "ir-datasets", dataset_id, "--queries-lang", "en", "--split", "dev", "--name", "x")
    assert _rows(db, "SELECT DISTINCT lang, split FROM queries") == [("en", "dev")]
    assert _rows(db, "SELECT DISTINCT lang FROM passages") == [("es",)]


class _Interrupted(Exception):
    pass


def test_interrupted_ingest_resumes_to_the_same_rows(tmp_path):
    """A run killed between batches, re-run, ends with the rows of an uninterrupted run."""
    dataset_id = register_local(tmp_path / "irds")
    whole, broken = tmp_path / "whole.db", tmp_path / "broken.db"
    with open_store(whole) as store:
        ingest_source(store, "local", reader.open_dataset(dataset_id), {"id": dataset_id}, batch_size=1, show_progress=False)

    source = reader.open_dataset(dataset_id)
    full = source.passages

    def dies_after_two():
        for n, passage in enumerate(full()):
            if n == 2:
                raise _Interrupted
            yield passage

    source.passages = dies_after_two
    with open_store(broken) as store, pytest.raises(_Interrupted):
        ingest_source(store, "local", source, {"id": dataset_id}, batch_size=1, show_progress=False)
    assert _rows(broken, "SELECT count(*) FROM passages") == [(2,)]
    assert _rows(broken, "SELECT state FROM invocations") == [("failed",)]
    with open_store(broken) as store:
        ingest_source(store, "local", reader.open_dataset(dataset_id), {"id": dataset_id}, batch_size=1, show_progress=False)
    assert _content(broken) == _content(whole)
    assert _rows(broken, "SELECT count(*), max(attempts), min(state) FROM invocations") == [(1, 2, "done")]
    assert _rows(broken, "SELECT count(DISTINCT invocation_id) FROM passages") == [(1,)]


# The ids the README gives as examples (looked up in the installed registry; nothing is downloaded).
README_IDS = ["mmarco/v2/es/dev/small", "mmarco/v2/de/dev/small", "mmarco/v2/fr/dev/small", "mmarco/v2/ru/dev/small",
              "miracl/es/dev", "miracl/de/dev", "miracl/fr/dev", "miracl/ru/dev", "mr-tydi/ru/test",
              "neuclir/1/ru/trec-2022", "neuclir/1/ru/trec-2023", "beir/scifact/test"]


def test_readme_dataset_ids_exist_in_the_registry():
    import ir_datasets

    registered = set(ir_datasets.registry)
    assert [i for i in README_IDS if i not in registered] == []
    readme = (__import__("pathlib").Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert all(i in readme for i in README_IDS)
