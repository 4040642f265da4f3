"""ingest: LoCoMo (with its evidence quirks), translations, BEIR, SQuAD/XQuAD, bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import beir_folder, committed_fixture, rows
from sqlalchemy import text

from xlcli.cli import app
from xlcli.store import open_store


def test_locomo_passages_queries_qrels(cli, db, small_locomo_file):
    result = cli("ingest", "locomo", small_locomo_file, "--name", "small")
    assert "added 16 passages, 10 queries" in result.output
    text_of = dict(rows(db, "SELECT ext_id, text FROM passages"))
    assert text_of["conv-a/D1:1"] == 'Jolene said, "Hi Marcus! I adopted a beagle puppy called Pepper last weekend." and shared a photo of a beagle puppy on a sofa'
    assert text_of["conv-a/D1:2"] == 'Marcus said, "That\'s wonderful, Jolene! I started restoring an old motorbike in my garage."'
    assert {s for (s,) in rows(db, "SELECT DISTINCT scope FROM passages")} == {"conv-a", "conv-b"}

    qrels = {}
    for ext, passage in rows(db, "SELECT q.ext_id, p.ext_id FROM qrels JOIN queries q ON q.id = query_id JOIN passages p ON p.id = passage_id"):
        qrels.setdefault(ext, set()).add(passage)
    assert qrels["conv-a/q1"] == {"conv-a/D2:1"}                      # zero-padded D2:01
    assert qrels["conv-a/q2"] == {"conv-a/D1:2", "conv-a/D1:4"}       # "D1:2; D1:4"
    assert qrels["conv-a/q3"] == {"conv-a/D2:2"}                      # "D:2:2" repaired, bare "D" dropped
    assert qrels["conv-a/q5"] == {"conv-a/D2:5"}                      # "D2:5 D2:9": D2:9 does not exist
    assert "conv-a/q4" not in qrels                                   # no evidence: a query without qrels
    for phrase in ("zero-padded", "several ids", "extra colon", "names no turn", "does not exist", "without evidence"):
        assert phrase in result.output

    meta = json.loads(rows(db, "SELECT metadata_json FROM queries WHERE ext_id = 'conv-a/q5'")[0][0])
    assert meta["category"] == 5 and meta["category_name"] == "adversarial" and meta["adversarial_answer"] == "cello"
    turn_meta = json.loads(rows(db, "SELECT metadata_json FROM passages WHERE ext_id = 'conv-a/D2:3'")[0][0])
    assert turn_meta["session"] == 2 and turn_meta["date_time"] == "10:15 am on 20 June, 2023" and turn_meta["speaker"] == "Jolene"


def test_locomo_split_by_conversation_and_reingest_adds_nothing(cli, db, small_locomo_file):
    cli("ingest", "locomo", small_locomo_file, "--test-conversations", "conv-b")
    assert dict(rows(db, "SELECT scope, min(split) || max(split) FROM queries GROUP BY scope")) == {"conv-a": "traintrain", "conv-b": "testtest"}
    before = rows(db, "SELECT count(*) FROM passages")[0][0], rows(db, "SELECT count(*) FROM qrels")[0][0]
    again = cli("ingest", "locomo", small_locomo_file, "--test-conversations", "conv-b")
    assert "nothing added" in again.output
    assert (rows(db, "SELECT count(*) FROM passages")[0][0], rows(db, "SELECT count(*) FROM qrels")[0][0]) == before
    conflicting = cli("ingest", "locomo", small_locomo_file, "--test-conversations", "conv-a", ok=False)
    assert conflicting.exit_code == 2 and "split" in conflicting.output


def test_locomo_test_fraction_is_seeded(cli, db, small_locomo_file):
    cli("ingest", "locomo", small_locomo_file, "--test-fraction", "0.5", "--seed", "3")
    splits = dict(rows(db, "SELECT scope, max(split) FROM queries GROUP BY scope"))
    assert sorted(splits.values()) == ["test", "train"]


def test_locomo_observation_and_summary_units(cli, db, small_locomo_file):
    cli("ingest", "locomo", small_locomo_file, "--units", "turns,observations,summaries")
    units = dict(rows(db, "SELECT unit, count(*) FROM passages GROUP BY unit"))
    assert units == {"turn": 16, "observation": 4, "summary": 2}
    relevant = {p for (p,) in rows(db, "SELECT p.ext_id FROM qrels JOIN queries q ON q.id = query_id"
                                        " JOIN passages p ON p.id = passage_id WHERE q.ext_id = 'conv-a/q0'")}
    assert relevant == {"conv-a/D1:1", "conv-a/obs/D1:1", "conv-a/S1"}


def test_translations_inherit_source(small_store, db):
    got = rows(db, "SELECT t.lang, t.split, t.scope, t.metadata_json = s.metadata_json, t.source_query_id = s.id"
                   " FROM queries t JOIN queries s ON s.id = t.source_query_id WHERE t.ext_id = 'conv-b/q0'")
    assert got == [("es", "test", "conv-b", 1, 1)]
    qrels = rows(db, "SELECT q.lang, count(*) FROM qrels JOIN queries q ON q.id = query_id WHERE q.ext_id = 'conv-a/q0' GROUP BY q.lang ORDER BY q.lang")
    assert qrels == [("de", 1), ("en", 1), ("es", 1), ("ru", 1)]
    assert "nothing added" in small_store("ingest", "translations", small_store.db.parent / "small_translations.jsonl").output


def test_translations_tsv(cli, db, small_locomo_file, tmp_path):
    cli("ingest", "locomo", small_locomo_file)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("query_id\tlang\ttext\nconv-b/q2\tfr\tOù habite la sœur de Tomás ?\n", encoding="utf-8")
    cli("ingest", "translations", tsv)
    assert rows(db, "SELECT text FROM queries WHERE lang = 'fr'") == [("Où habite la sœur de Tomás ?",)]


def _store_bytes(db: Path) -> bytes:
    return db.read_bytes() if db.exists() else b""


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"[{\"sample_id\": ", "not valid JSON"),
        (b"", "empty"),
        (json.dumps([{"sample_id": "x", "conversation": {}}]).encode(), "missing required field 'qa'"),
        (json.dumps([{"sample_id": "x", "conversation": {"session_1": [{"speaker": "A", "dia_id": "D1:1"}]}, "qa": []}]).encode(),
         "missing required field 'text'"),
        (json.dumps([{"sample_id": "x", "conversation": {}, "qa": []}, {"sample_id": "x", "conversation": {}, "qa": []}]).encode(),
         "duplicate sample_id"),
    ],
)
def test_bad_locomo_file_leaves_store_unchanged(cli, db, small_locomo_file, tmp_path, content, message):
    cli("ingest", "locomo", small_locomo_file)
    before = _store_bytes(db)
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    result = cli("ingest", "locomo", bad, "--name", "other", ok=False)
    assert result.exit_code == 2
    assert message in result.output and str(bad) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _store_bytes(db) == before


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"query_id": "conv-a/q0", "lang": "xx", "text": "hola"}'], "unknown language code 'xx'"),
        (['{"query_id": "conv-zz/q9", "lang": "es", "text": "hola"}'], "no query 'conv-zz/q9'"),
        (['{"query_id": "conv-a/q0", "lang": "es"}'], "missing required field 'text'"),
        (['{"query_id": "conv-a/q1", "lang": "es", "text": "a"}', '{"query_id": "conv-a/q1", "lang": "es", "text": "b"}'], "duplicate translation"),
        (['{"query_id": "conv-a/q0", "lang": "es", "text": "hola"}', "not json"], ":2: not valid JSON"),
    ],
)
def test_bad_translations_leave_store_unchanged(cli, db, small_locomo_file, tmp_path, lines, message):
    cli("ingest", "locomo", small_locomo_file)
    before = _store_bytes(db)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("ingest", "translations", bad, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _store_bytes(db) == before


def test_store_problems_are_one_line_errors(cli, db, small_locomo_file, tmp_path):
    missing_dir = cli.runner.invoke(app, ["--db", str(tmp_path / "no" / "x.db"), "ingest", "locomo", str(small_locomo_file)])
    assert missing_dir.exit_code == 2 and "does not exist" in missing_dir.output

    cli("ingest", "locomo", small_locomo_file)
    before = _store_bytes(db)
    db.chmod(stat.S_IRUSR)
    try:
        result = cli("ingest", "locomo", small_locomo_file, "--name", "again", ok=False)
        assert result.exit_code == 2 and "read-only" in result.output
    finally:
        db.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert _store_bytes(db) == before

    with open_store(db) as store, store.write() as conn:
        conn.execute(text("INSERT INTO xlcli_migrations (version, name) VALUES (9999, 'future')"))
    before = _store_bytes(db)
    result = cli("ingest", "locomo", small_locomo_file, "--name", "again", ok=False)
    assert result.exit_code == 2 and "newer xlcli" in result.output
    assert _store_bytes(db) == before


def test_beir_folder(cli, db, tmp_path):
    folder = beir_folder(tmp_path / "mini", {f"d{i}": (f"T{i}", f"document {i}") for i in range(4)},
                         {f"q{i}": f"query {i}" for i in range(3)}, [("q0", "d1", 2), ("q0", "d2", 1), ("q1", "d3", 1)])
    result = cli("ingest", "beir", folder)
    assert "added 4 passages, 2 queries" in result.output and "without judgements" in result.output
    assert rows(db, "SELECT q.ext_id, p.ext_id, relevance FROM qrels JOIN queries q ON q.id = query_id"
                    " JOIN passages p ON p.id = passage_id ORDER BY 1, 2") == [("q0", "d1", 2), ("q0", "d2", 1), ("q1", "d3", 1)]
    assert rows(db, "SELECT DISTINCT scope FROM passages") == [(None,)]


def test_xquad_languages_link_as_translations(cli, db, tmp_path):
    def squad(lang, question, context):
        return {"version": "1.1", "data": [{"title": "Alps", "paragraphs": [
            {"context": context, "qas": [{"id": "qid-1", "question": question, "answers": [{"answer_start": 0, "text": "x"}]}]}]}]}

    en, de = tmp_path / "xquad.en.json", tmp_path / "xquad.de.json"
    en.write_text(json.dumps(squad("en", "How high is Mont Blanc?", "Mont Blanc is 4,808 m high.")))
    de.write_text(json.dumps(squad("de", "Wie hoch ist der Mont Blanc?", "Der Mont Blanc ist 4.808 m hoch.")), encoding="utf-8")
    cli("ingest", "squad", en, "--lang", "en", "--name", "xquad")
    result = cli("ingest", "squad", de, "--lang", "de", "--name", "xquad")
    assert "1 translations" in result.output
    (source_id,) = rows(db, "SELECT id FROM queries WHERE lang = 'en'")[0]
    assert rows(db, "SELECT source_query_id FROM queries WHERE lang = 'de'") == [(source_id,)]
    relevant = {p for (p,) in rows(db, "SELECT p.ext_id FROM qrels JOIN queries q ON q.id = query_id"
                                        " JOIN passages p ON p.id = passage_id WHERE q.lang = 'de'")}
    assert relevant == {"en/0/0", "de/0/0"}
    bad = cli("ingest", "squad", de, "--lang", "zz", ok=False)
    assert bad.exit_code == 2 and "unknown language code" in bad.output


def test_status_and_sql(small_store, db):
    info = json.loads(small_store("status", "--json").output)
    (ds,) = info["datasets"]
    assert ds["passages"] == 16 and ds["scopes"] == 2 and ds["queries"] == 16
    assert ds["queries_by_lang_split"]["en/train"] == 6 and ds["queries_by_lang_split"]["es/test"] == 1
    assert ds["queries_by_category"]["single-hop"] == 4
    assert [i["state"] for i in info["invocations"]] == ["done", "done"]
    assert "Step invocations" in small_store("status").output

    out = json.loads(small_store("sql", "SELECT lang, count(*) AS n FROM queries GROUP BY lang ORDER BY lang", "--json").output)
    assert out[0] == {"lang": "de", "n": 2}
    assert small_store("sql", "SELECT count(*) AS n FROM passages", "--csv").output.splitlines() == ["n", "16"]
    refused = small_store("sql", "DELETE FROM qrels", ok=False)
    assert refused.exit_code == 2 and "--write" in refused.output
    assert rows(db, "SELECT count(*) FROM qrels")[0][0] > 0
    small_store("sql", "DELETE FROM qrels WHERE relevance > 5", "--write")
    bad = small_store("sql", "SELECT nope FROM nowhere", ok=False)
    assert bad.exit_code == 2 and "SQL error" in bad.output


def test_bundled_fixtures_ingest(cli, db):
    result = cli("ingest", "locomo", committed_fixture("locomo/locomo_fixture.json"), "--name", "fx", "--test-conversations", "conv-103,conv-104")
    for phrase in ("zero-padded", "several ids", "extra colon", "names no turn", "does not exist", "without evidence"):
        assert phrase in result.output
    cli("ingest", "translations", committed_fixture("locomo/translations.jsonl"))
    info = json.loads(cli("status", "--json").output)["datasets"][0]
    assert info["scopes"] >= 4 and info["passages"] >= 600
    originals = sum(n for key, n in info["queries_by_lang_split"].items() if key.startswith("en/"))
    assert originals >= 160 and len(info["queries_by_category"]) == 5
    for lang in ("es", "de", "fr", "ru"):
        assert sum(n for key, n in info["queries_by_lang_split"].items() if key.startswith(f"{lang}/")) == originals

    cli("ingest", "beir", committed_fixture("beir"), "--name", "beir")
    cli("ingest", "squad", committed_fixture("squad/xquad.en.json"), "--lang", "en", "--name", "xquad")
    cli("ingest", "squad", committed_fixture("squad/xquad.de.json"), "--lang", "de", "--name", "xquad")
    by_name = {d["name"]: d for d in json.loads(cli("status", "--json").output)["datasets"]}
    assert by_name["beir"]["queries"] == by_name["beir"]["queries_with_qrels"] > 0
    assert by_name["xquad"]["queries_by_lang_split"]["de/test"] == by_name["xquad"]["queries_by_lang_split"]["en/test"]


def _all_rows(db: Path) -> dict[str, list]:
    with open_store(db, write=False) as store, store.read() as conn:
        names = [n for (n,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
        return {n: sorted(conn.exec_driver_sql(f'SELECT * FROM "{n}"').all(), key=repr) for n in names}


def test_translations_that_differ_from_the_stored_ones_are_counted_and_the_stored_text_kept(small_store, db, tmp_path):
    changed = tmp_path / "changed.jsonl"
    changed.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in [
        {"query_id": "conv-a/q0", "lang": "es", "text": "¿Cuál es el nombre del perro de Jolene?"},  # stored differently
        {"query_id": "conv-a/q0", "lang": "de", "text": "Wie heißt Jolenes Hund?"},  # the same as stored
        {"query_id": "conv-b/q2", "lang": "ru", "text": "Где живёт сестра Томаса?"},  # new
    ]), encoding="utf-8")
    result = small_store("ingest", "translations", changed)
    assert "added 1 translations" in result.stdout
    assert "1 translations in the file differ from the stored ones; the stored texts are kept" in result.stdout
    assert f"{changed}:1: stored '¿Cómo se llama el perro de Jolene?', file '¿Cuál es el nombre del perro de Jolene?'" in result.stdout
    assert rows(db, "SELECT text FROM queries WHERE ext_id = 'conv-a/q0' AND lang = 'es'") == [("¿Cómo se llama el perro de Jolene?",)]
    again = json.loads(small_store("ingest", "translations", changed, "--json").stdout)
    assert again["already_done"] and again["notes"]["differ"]["count"] == 1
    same = json.loads(small_store("ingest", "translations", small_store.db.parent / "small_translations.jsonl", "--json").stdout)
    assert "differ" not in same["notes"]


def _xquad(question: str, context: str) -> dict:
    return {"version": "1.1", "data": [{"title": "Alps", "paragraphs": [
        {"context": context, "qas": [{"id": "qid-1", "question": question, "answers": [{"answer_start": 0, "text": "x"}]}]}]}]}


def test_a_non_english_xquad_file_before_its_english_source_is_refused(small_store, db, tmp_path):
    de = tmp_path / "xquad.de.json"
    de.write_text(json.dumps(_xquad("Wie hoch ist der Mont Blanc?", "Der Mont Blanc ist 4.808 m hoch.")), encoding="utf-8")
    before = _all_rows(db)
    result = small_store("ingest", "squad", de, "--lang", "de", "--name", "xquad", ok=False)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "ingest the English file first (--lang en, same --name)" in lines[0] and "--original" in lines[0]
    assert _all_rows(db) == before
    small_store("ingest", "squad", de, "--lang", "de", "--name", "german-qa", "--original")  # a German set of its own
    assert rows(db, "SELECT lang, source_query_id FROM queries WHERE ext_id = 'qid-1'") == [("de", None)]
