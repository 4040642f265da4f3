"""xlcli rewrite end to end on the bundled fixture: every clean query and every misspelled variant
rewritten, per-word operations stored, re-runs idempotent, the store API eval builds on."""

from __future__ import annotations

import json

import pytest
from conftest import Cli, copy_store
from rewrite_helpers import LEXICONS, build_fixture_store, rewrites
from sqlalchemy import text

from xlcli.rewrite import store as RS
from xlcli.store import open_store


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("rewrite-fixture"))


@pytest.fixture
def fx(base, tmp_path) -> Cli:
    return Cli(copy_store(base, tmp_path / "store.db"))


def _scalar(db, sql, **params):
    with open_store(db, write=False) as store, store.read() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_lexicon_rewrite_of_clean_queries_and_variants(fx):
    result = fx("rewrite", "--name", "lex", "--backend", "lexicon", *LEXICONS, "--split", "test", "--json")
    summary = json.loads(result.stdout)
    expected = _scalar(fx.db, "SELECT count(*) FROM queries WHERE lang IN ('es','de','fr','ru') AND split = 'test'") + _scalar(
        fx.db, "SELECT count(*) FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.lang != 'en'")
    assert summary["added"] == summary["texts"] == expected
    assert set(summary["by_lang"]) == {"es", "de", "fr", "ru"}
    for lang, s in summary["by_lang"].items():
        assert s["clean"] == 186 and s["variants"] == 1860
        assert s["steps"]["exact"] > 0 and s["steps"]["fuzzy"] > 0 and s["steps"]["name"] > 0
        assert s["unknown"] / s["words"] < 0.3, lang
    assert summary["by_lang"]["de"]["steps"]["compound"] > 0
    assert summary["by_lang"]["ru"]["steps"]["lemma"] > 0

    rows = rewrites(fx.db, "lex")
    (inv,) = [r for r in _invocations(fx.db) if r[1] == "rewrite"]
    assert inv[2] == "done"
    with open_store(fx.db, write=False) as store, store.read() as conn:
        assert {r[0] for r in conn.execute(text("SELECT DISTINCT invocation_id FROM query_rewrites"))} == {inv[0]}
        run = RS.get_run(conn, "lex")
        assert (run.backend, run.target_lang, run.langs, run.split, run.variant_sets) == ("lexicon", "en", ["es", "de", "fr", "ru"], "test", ["ielab"])
        assert run.covers("ru", "ielab", "test") and not run.covers("en", "clean", "test") and not run.covers("es", "rate", "test")
        assert set(run.params["lexicons"]["es"]) == {"path", "sha256", "direction", "entries"}
        texts = RS.texts(conn, run.id)
        # The Russian question about Jolene's cello teacher: its name comes out as the passages write it.
        qid = conn.execute(text("SELECT id FROM queries WHERE ext_id = 'conv-101/q1' AND lang = 'ru'")).scalar_one()
        variant_ids = [r[0] for r in conn.execute(text("SELECT id FROM query_variants WHERE query_id = :q"), {"q": qid})]
    assert len(texts) == len(rows)
    assert "Jolene" in texts[(qid, 0)] and all((qid, v) in texts for v in variant_ids)
    for r in rows[:50]:
        ops = json.loads(r[5])
        assert all({"word", "step", "out"} <= set(op) for op in ops)
        assert r[6] == sum(op["step"] == "unknown" for op in ops)


def _invocations(db):
    with open_store(db, write=False) as store, store.read() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, step, state FROM invocations ORDER BY id"))]


def test_rerun_is_a_no_op_and_the_same_name_with_other_parameters_is_refused(fx):
    args = ("rewrite", "--name", "lex", "--backend", "lexicon", *LEXICONS, "--langs", "es,de", "--variants", "ielab")
    fx(*args)
    before = rewrites(fx.db, "lex")
    again = fx(*args)
    assert "nothing to do" in again.output
    assert rewrites(fx.db, "lex") == before
    other = fx("rewrite", "--name", "lex", "--backend", "lexicon", *LEXICONS, "--langs", "es,de", "--translations", "2", ok=False)
    assert other.exit_code == 2 and "already exists with other parameters" in other.output
    assert rewrites(fx.db, "lex") == before


def test_variants_none_and_translations_n(fx):
    fx("rewrite", "--name", "one", "--backend", "lexicon", *LEXICONS, "--langs", "es", "--variants", "none")
    fx("rewrite", "--name", "three", "--backend", "lexicon", *LEXICONS, "--langs", "es", "--variants", "none", "--translations", "3")
    one, three = rewrites(fx.db, "one"), rewrites(fx.db, "three")
    assert len(one) == len(three) == 186 and all(r[2] == -1 for r in one)
    longer = sum(len(b[4].split()) > len(a[4].split()) for a, b in zip(one, three))
    assert longer > 50  # many words have several translations in the dictionary
    assert all(len(b[4].split()) >= len(a[4].split()) for a, b in zip(one, three))


def test_spell_backend_on_misspelled_english(fx):
    result = fx("rewrite", "--name", "spell-en", "--backend", "spell", "--langs", "en", "--json")
    by_lang = json.loads(result.stdout)["by_lang"]
    assert by_lang["en"]["steps"]["fuzzy"] > 500
    with open_store(fx.db, write=False) as store, store.read() as conn:
        rows = conn.execute(text(
            "SELECT q.text AS clean, v.text AS typo, r.text AS fixed FROM query_rewrites r JOIN query_variants v ON v.id = r.variant_id"
            " JOIN queries q ON q.id = r.query_id WHERE q.lang = 'en'")).all()
        clean_rewrites = conn.execute(text(
            "SELECT count(*) FROM query_rewrites r JOIN queries q ON q.id = r.query_id WHERE r.variant_id = 0 AND r.text = q.text")).scalar_one()
    repaired = sum(r.fixed == r.clean for r in rows)
    assert repaired / len(rows) > 0.4, repaired / len(rows)  # the typo is undone exactly
    assert clean_rewrites >= 150  # clean queries stay (nearly all) as they are


def test_sql_over_operations_finds_unknown_words(fx):
    fx("rewrite", "--name", "lex", "--backend", "lexicon", *LEXICONS, "--langs", "ru")
    result = fx("sql", "--json",
                "SELECT json_extract(op.value, '$.word') AS word, count(*) AS n FROM query_rewrites r"
                " JOIN rewrite_runs rr ON rr.id = r.rewrite_run_id JOIN query_variants v ON v.id = r.variant_id"
                " JOIN queries q ON q.id = r.query_id, json_each(r.operations_json) op"
                " WHERE rr.name = 'lex' AND q.lang = 'ru' AND json_extract(op.value, '$.step') = 'unknown'"
                " GROUP BY word ORDER BY n DESC, word LIMIT 5")
    assert "word" in result.stdout and json.loads(result.stdout)


def _repaired(db, run: str) -> float:
    """Fraction of variants whose rewrite equals the rewrite of their clean query."""
    with open_store(db, write=False) as store, store.read() as conn:
        return conn.execute(text(
            "SELECT avg(v.text = c.text) FROM query_rewrites v JOIN query_rewrites c ON c.rewrite_run_id = v.rewrite_run_id"
            " AND c.query_id = v.query_id AND c.variant_id = 0 JOIN rewrite_runs r ON r.id = v.rewrite_run_id"
            " WHERE r.name = :n AND v.variant_id != 0"), {"n": run}).scalar_one()


def test_typo_tolerant_lookup_repairs_misspelled_variants(fx):
    fx("rewrite", "--name", "fuzzy", "--backend", "lexicon", *LEXICONS, "--langs", "es,de")
    fx("rewrite", "--name", "exact", "--backend", "lexicon", *LEXICONS, "--langs", "es,de", "--no-fuzzy", "--no-lemma", "--no-compound")
    with_fuzzy, exact_only = _repaired(fx.db, "fuzzy"), _repaired(fx.db, "exact")
    assert with_fuzzy > exact_only + 0.15, (with_fuzzy, exact_only)
