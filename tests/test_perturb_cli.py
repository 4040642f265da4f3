"""xlcli perturb through the real CLI and store: provenance, idempotence, resumption, skips, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import rows

from xlcli import seeding
from xlcli.perturb import layouts, tables
from xlcli.perturb import store as S
from xlcli.perturb.protocols import Spec, perturb
from xlcli.store import open_store

ACCEPTANCE = ("perturb", "--protocol", "ielab", "--variants", "10", "--langs", "en,es,de,fr,ru", "--seed", "1")


def variant_rows(db: Path, set_name: str | None = None) -> list:
    where = "" if set_name is None else "WHERE s.name = :n"
    return rows(db, "SELECT s.name, q.ext_id, q.lang, v.idx, v.text, v.operations_json, v.levenshtein, v.damerau, v.seed"
                    " FROM query_variants v JOIN variant_sets s ON s.id = v.variant_set_id JOIN queries q ON q.id = v.query_id "
                    + where + " ORDER BY s.name, q.ext_id, q.lang, v.idx", n=set_name)


def test_acceptance_on_the_small_store(small_store, db):
    result = small_store(*ACCEPTANCE)
    assert "variant set ielab" in result.output
    queries = rows(db, "SELECT id, lang, text FROM queries WHERE lang IN ('en','es','de','fr','ru')")
    stored = rows(db, "SELECT query_id, text, operations_json, damerau FROM query_variants")
    skipped = {q for q, in rows(db, "SELECT query_id FROM variant_skips")}
    by_query: dict[int, list] = {}
    for query_id, variant, ops, damerau in stored:
        by_query.setdefault(query_id, []).append(variant)
        assert len(json.loads(ops)) == 1 and damerau in (1, 2)
    for query_id, lang, source in queries:
        if query_id in skipped:
            continue
        assert len(by_query[query_id]) == 10 and len(set(by_query[query_id])) == 10 and source not in by_query[query_id]
        if lang == "ru":
            assert not any(c.isascii() and c.isalpha() for v in by_query[query_id] for c in v)
    # a second identical run adds nothing
    before = len(stored)
    again = small_store(*ACCEPTANCE)
    assert "nothing to do" in again.output
    assert rows(db, "SELECT count(*) FROM query_variants")[0][0] == before


def test_every_variant_records_its_provenance(small_store, db):
    small_store("perturb", "--protocol", "ielab", "--langs", "es", "--seed", "5")
    (_set_id, name, protocol, params, seed, inv_id), = rows(
        db, "SELECT id, name, protocol, params_json, seed, invocation_id FROM variant_sets")
    assert (name, protocol, seed, json.loads(params)["variants"]) == ("ielab", "ielab", 5, 10)
    step, inv_params = rows(db, "SELECT step, params_json FROM invocations WHERE id = :i", i=inv_id)[0]
    assert step == "perturb" and json.loads(inv_params)["langs"] == ["es"]
    stored = rows(db, "SELECT q.text, v.idx, v.text, v.operations_json, v.levenshtein, v.damerau, v.seed, v.invocation_id"
                      " FROM query_variants v JOIN queries q ON q.id = v.query_id ORDER BY q.id, v.idx")
    assert stored and all(r[7] == inv_id for r in stored)
    # the library, the stored rows and the preview agree on every field
    t = tables.get("es")
    for source in {r[0] for r in stored}:
        outcome = perturb(source, t, Spec.make("ielab"), 5)
        mine = [(source, i, v.text, json.dumps([o.as_dict() for o in v.ops], ensure_ascii=False, separators=(",", ":")),
                 v.levenshtein, v.damerau, seeding.query_seed(5, "ielab", {}, "es", source), inv_id)
                for i, v in enumerate(outcome.variants)]
        assert mine == [r for r in stored if r[0] == source]
        preview = json.loads(small_store("perturb", "--preview", source, "--lang", "es", "--protocol", "ielab", "--seed", "5", "--json").stdout)
        assert [v["text"] for v in preview["variants"]] == [r[2] for r in mine]


def test_other_parameters_make_sets_side_by_side(small_store, db):
    small_store("perturb", "--protocol", "ielab", "--langs", "es")
    small_store("perturb", "--protocol", "ielab", "--langs", "es,de")      # same set: adds de only
    (n_sets,), = rows(db, "SELECT count(*) FROM variant_sets")
    assert n_sets == 1
    langs = rows(db, "SELECT q.lang, count(DISTINCT v.invocation_id) FROM query_variants v JOIN queries q ON q.id = v.query_id GROUP BY q.lang")
    assert dict(langs) == {"es": 1, "de": 1} and len({i for i, in rows(db, "SELECT invocation_id FROM query_variants")}) == 2
    small_store("perturb", "--protocol", "ielab", "--langs", "es", "--seed", "2")
    small_store("perturb", "--protocol", "rate", "--langs", "es", "--rate", "0.3")
    small_store("perturb", "--protocol", "mixed", "--langs", "es", "--name", "realistic")
    names = [n for n, in rows(db, "SELECT name FROM variant_sets ORDER BY id")]
    assert names == ["ielab", "ielab-s2", "rate-0.3", "realistic"]
    # the sets differ
    assert {r[4] for r in variant_rows(db, "ielab") if r[2] == "es"} != {r[4] for r in variant_rows(db, "ielab-s2")}


def test_skips_are_counted_with_their_reason(small_store, db, tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text("\n".join(json.dumps(t, ensure_ascii=False) for t in [
        {"query_id": "conv-a/q1", "lang": "fr", "text": "Où est-il ?"},                # only stopwords
        {"query_id": "conv-a/q2", "lang": "ru", "text": "Πού ζει η αδελφή του;"},      # Greek, not typable on ЙЦУКЕН
    ]) + "\n", encoding="utf-8")
    small_store("ingest", "translations", extra)
    result = small_store("perturb", "--protocol", "ielab", "--langs", "fr,ru")
    assert "no eligible word" in result.output and "script not typable on ru layout (Greek)" in result.output
    skips = dict(rows(db, "SELECT q.text, s.reason FROM variant_skips s JOIN queries q ON q.id = s.query_id"))
    assert skips == {"Où est-il ?": "no eligible word (all stopwords or shorter than 3 letters)",
                     "Πού ζει η αδελφή του;": "script not typable on ru layout (Greek)"}
    data = json.loads(small_store("perturb", "--protocol", "ielab", "--langs", "fr,ru", "--json").stdout)
    assert data["already_done"] and data["by_lang"]["ru"]["skipped"] == 1 and data["by_lang"]["ru"]["perturbed"] == 1


def test_a_killed_run_resumes_to_the_same_rows(small_store, db, tmp_path, monkeypatch, small_locomo_file, small_translations_file):
    monkeypatch.setattr(S, "BATCH", 3)
    spec = Spec.make("mixed")
    with open_store(db) as store:
        plan = S.make_plan(store, dataset=None, spec=spec, seed=9, langs=None, split=None, layout_specs={})
        calls = []

        def interrupt(n):
            calls.append(n)
            if len(calls) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            S.run(store, plan, on_progress=interrupt)
        partial = rows(db, "SELECT count(DISTINCT query_id) FROM query_variants")[0][0]
        assert 0 < partial < plan.query_count
        result = S.run(store, S.make_plan(store, dataset=None, spec=spec, seed=9, langs=None, split=None, layout_specs={}))
        assert not result.already_done
    (attempts,), = rows(db, "SELECT attempts FROM invocations WHERE step = 'perturb'")
    assert attempts == 2
    # an uninterrupted run in a fresh store gives the same rows
    other = tmp_path / "other.db"
    fresh = type(small_store)(other)
    fresh("ingest", "locomo", small_locomo_file, "--name", "small", "--test-conversations", "conv-b")
    fresh("ingest", "translations", small_translations_file)
    fresh("perturb", "--protocol", "mixed", "--seed", "9")
    assert variant_rows(db) == variant_rows(other)


def test_preview_prints_distinct_variants_and_touches_no_store(cli, db):
    result = cli("perturb", "--preview", "¿Cuándo pintó Melanie un amanecer?", "--lang", "es", "--protocol", "ielab")
    lines = [line for line in result.output.splitlines() if "¿" in line][1:]
    variants = {line.split("│")[2].strip() for line in lines}
    assert len(variants) == 10 and "¿Cuándo pintó Melanie un amanecer?" not in variants
    assert "lev" in result.output and "osa" in result.output
    assert not db.exists()


def fingerprint(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--langs", "xx"), "supported languages are de, en, es, fr, it, pt, ru"),
        (("--langs", "zh"), "supported languages are de, en, es, fr, it, pt, ru"),
        (("--langs", "en", "--layout", "en=dvorak"), "shipped layouts are de, en, es, fr, it, pt, pt-PT, ru"),
        (("--langs", "en", "--layout", "en=missing.json"), "does not exist"),
        (("--langs", "it"), "has no it queries"),
        (("--split", "dev"), "has no split 'dev'"),
        (("--dataset", "nope"), "no dataset 'nope'"),
        (("--rate", "0.2"), "--rate applies to the rate and diacritics protocols"),
        (("--lang", "es"), "--lang goes with --preview"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(small_store, db, args, message):
    before = fingerprint(db)
    result = small_store("perturb", "--protocol", "ielab", *args, ok=False)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert fingerprint(db) == before


def test_preview_errors(cli):
    greek = cli("perturb", "--preview", "Πού ζει η αδελφή;", "--lang", "ru", "--protocol", "ielab", ok=False)
    assert greek.exit_code == 2 and "not typable on the ru layout" in greek.output
    nothing = cli("perturb", "--preview", "What is it?", "--lang", "en", "--protocol", "ielab", ok=False)
    assert nothing.exit_code == 2 and "no eligible word" in nothing.output
    assert cli("perturb", "--preview", "x", "--protocol", "ielab", ok=False).exit_code == 2  # no --lang


def test_user_layout_file_makes_its_own_set(small_store, db, tmp_path):
    layout = tmp_path / "colemak.json"
    layout.write_text(json.dumps({"name": "colemak", "rows": [
        {"base": "`1234567890-="}, {"base": "qwfpgjluy;[]"}, {"base": "arstdhneio'"}, {"base": "zxcvbkm,./"}]}), encoding="utf-8")
    small_store("perturb", "--protocol", "ielab", "--langs", "en")
    small_store("perturb", "--protocol", "ielab", "--langs", "en", "--layout", f"en={layout}")
    sets = rows(db, "SELECT name, params_json FROM variant_sets ORDER BY id")
    assert [s[0] for s in sets] == ["ielab", "ielab-s13"]
    assert json.loads(sets[1][1])["layouts"]["en"]["name"] == "colemak"
    colemak = tables.get("en", layouts.load(str(layout)))
    for (ops,) in rows(db, "SELECT operations_json FROM query_variants v JOIN variant_sets s ON s.id = v.variant_set_id"
                           " WHERE s.name = 'ielab-s13'"):
        (o,) = json.loads(ops)
        if o["op"] == "keyboard":
            assert o["new"].lower() in colemak.neighbours[o["old"].lower()]


@pytest.mark.slow
def test_acceptance_on_the_bundled_fixture(cli, db, fixture_locomo):
    cli("ingest", "locomo", fixture_locomo, "--name", "fixture")
    cli("ingest", "translations", fixture_locomo.parent / "translations.jsonl")
    cli(*ACCEPTANCE)
    counts = rows(db, "SELECT q.id, q.lang, q.text, count(v.id), max(v.damerau), min(v.damerau), max(json_array_length(v.operations_json))"
                      " FROM queries q LEFT JOIN query_variants v ON v.query_id = q.id"
                      " WHERE q.lang IN ('en','es','de','fr','ru') GROUP BY q.id")
    skipped = {q for q, in rows(db, "SELECT query_id FROM variant_skips")}
    for query_id, _lang, _source, n, hi, lo, n_ops in counts:
        assert query_id in skipped or (n == 10 and 1 <= lo <= hi <= 2 and n_ops == 1)
    for source, variant in rows(db, "SELECT q.text, v.text FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.lang = 'ru'"):
        latin = lambda s: {c for c in s if c.isascii() and c.isalpha()}  # noqa: E731
        assert latin(variant) <= latin(source)  # no Latin letter injected into Cyrillic
    (before,), = rows(db, "SELECT count(*) FROM query_variants")
    cli(*ACCEPTANCE)
    assert rows(db, "SELECT count(*) FROM query_variants")[0][0] == before
