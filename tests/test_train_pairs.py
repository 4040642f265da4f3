"""train: pairs from the store and the leakage guard (real store, small LoCoMo, conv-b held out)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from xlcli.datasets.parallel import ParallelSentence
from xlcli.errors import XlcliError
from xlcli.store import open_store
from xlcli.train.pairs import Pair, build, guard, holdout, sentence_keys
from xlcli.train.sources import PairSource
from xlcli.train.typos import TypoMaker


@pytest.fixture
def store(small_store, db):
    with open_store(db) as handle:
        yield handle


def _dataset(conn):
    return dict(conn.execute(text("SELECT * FROM datasets WHERE name = 'small'")).mappings().one())


def _add_generated(store, per_passage: dict[int, str]) -> None:
    """Generated queries written the way `xlcli generate` stores them (generator run + rows)."""
    with store.write() as conn:
        inv = conn.execute(text(
            "INSERT INTO invocations (step, key, params_json, state, started_at, xlcli_version)"
            " VALUES ('generate', 'k', '{}', 'done', 'now', 'test') RETURNING id")).scalar_one()
        run = conn.execute(text(
            "INSERT INTO generator_runs (dataset_id, name, backend, params_json, key, invocation_id)"
            " VALUES (1, 'lex', 'lexicon', '{}', 'k', :i) RETURNING id"), {"i": inv}).scalar_one()
        for passage_id, query in per_passage.items():
            conn.execute(text(
                "INSERT INTO generated_queries (generator_run_id, passage_id, lang, idx, text, invocation_id)"
                " VALUES (:r, :p, 'es', 0, :t, :i)"), {"r": run, "p": passage_id, "t": query, "i": inv})


def test_query_pairs_come_from_the_training_split_only(store):
    with store.read() as conn:
        dataset = _dataset(conn)
        pair_set = build(conn, dataset, (PairSource("queries", ("en", "es", "de", "ru", "fr")),))
        split_of = dict(conn.execute(text("SELECT id, split FROM queries")).all())
        train_with_qrels = {r.id for r in conn.execute(text(
            "SELECT DISTINCT q.id FROM queries q JOIN qrels r ON r.query_id = q.id WHERE q.split = 'train'"))}
        test_texts = {t for (t,) in conn.execute(text("SELECT text FROM queries WHERE split = 'test'"))}
    assert pair_set.pairs and {split_of[p.query_id] for p in pair_set.pairs} == {"train"}
    assert {p.query_id for p in pair_set.pairs} == train_with_qrels  # every judged training query, in every language
    assert not {p.query for p in pair_set.pairs} & test_texts
    spanish = [p for p in pair_set.pairs if p.lang == "es"]
    assert [p.query for p in spanish] == ["¿Cómo se llama el perro de Jolene?"]  # conv-b's Spanish query is held out
    assert spanish[0].en_query == "What is the name of Jolene's dog?" and spanish[0].group == "q:conv-a/q0"
    assert pair_set.counts["queries:es"] == 1 and not pair_set.leaks


def test_every_relevant_passage_of_a_query_is_excluded_as_its_negative(store):
    with store.read() as conn:
        pairs = build(conn, _dataset(conn), (PairSource("queries", ("en",)),)).pairs
    multi = [p for p in pairs if len(p.positives) > 1]
    assert multi, "the small LoCoMo has a question with two evidence turns"
    for pair in multi:
        siblings = [q for q in pairs if q.query_id == pair.query_id]
        assert {q.passage_id for q in siblings} == set(pair.positives)
        assert len({q.group for q in siblings}) == 1


def test_generated_queries_of_evaluation_conversations_are_left_out(store):
    with store.read() as conn:
        scope_of = dict(conn.execute(text("SELECT id, scope FROM passages WHERE unit = 'turn'")).all())
    _add_generated(store, {pid: f"pregunta {pid}" for pid in scope_of})
    with store.write() as conn:  # what the lexicon backend records: the English terms it translated
        conn.execute(text("UPDATE generated_queries SET metadata_json = '{\"terms\": [\"question\", \"dog\"]}' WHERE idx = 0"))
    with store.read() as conn:
        guarded = build(conn, _dataset(conn), (PairSource("generated", ("es",)),))
        leaky = build(conn, _dataset(conn), (PairSource("generated", ("es",)),), allow_leakage=True)
    in_test = sum(1 for s in scope_of.values() if s == "conv-b")
    assert {scope_of[p.passage_id] for p in guarded.pairs} == {"conv-a"}
    assert {p.en_query for p in guarded.pairs} == {"question dog"}
    assert len(guarded.pairs) == len(scope_of) - in_test
    assert guarded.leaks == {"passage of an evaluation scope": in_test}
    assert len(leaky.pairs) == len(scope_of) and leaky.leaks == guarded.leaks  # kept, but counted


def test_guard_drops_translations_variants_and_copies_of_evaluation_queries(store, small_store):
    small_store("perturb", "--protocol", "ielab", "--variants", "2", "--langs", "en,es", "--seed", "3")
    with store.read() as conn:
        held = holdout(conn, _dataset(conn)["id"])
        test_query = conn.execute(text("SELECT id, ext_id, text FROM queries WHERE split = 'test' AND lang = 'en' LIMIT 1")).one()
        translation = conn.execute(text("SELECT text FROM queries WHERE ext_id = 'conv-b/q0' AND lang = 'es'")).scalar_one()
        variant = conn.execute(text(
            "SELECT v.text FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.split = 'test' LIMIT 1")).scalar_one()
        train_variant = conn.execute(text(
            "SELECT v.text FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.split = 'train' LIMIT 1")).scalar_one()
    assert held.splits == ["test"] and held.scopes == {"conv-b"}

    def pair(query, **kw):
        return Pair(query=query, lang="en", positive="p", passage_id=1, group="g", source="queries:en", scope="conv-a", **kw)

    candidates = [
        pair("an unrelated training question"),
        pair(test_query.text.upper() + "  "),  # same text, other case and spacing
        pair("x", query_id=test_query.id),
        pair("y", ext_id=test_query.ext_id),
        pair(translation),
        pair(variant),
        pair(train_variant),  # a misspelling of a *training* query is fine
    ]
    kept, leaks = guard(candidates, held, allow_leakage=False)
    assert [p.query for p in kept] == ["an unrelated training question", train_variant]
    assert sum(leaks.values()) == 5
    kept, _ = guard(candidates, held, allow_leakage=True)
    assert len(kept) == len(candidates)

    sentences = [ParallelSentence(1, "es", translation, "whatever"), ParallelSentence(2, "es", "Hola.", "Hello."),
                 ParallelSentence(3, "es", "Algo.", test_query.text)]
    kept, leaks = guard(sentences, held, allow_leakage=False, keys=sentence_keys)
    assert [s.line for s in kept] == [2] and sum(leaks.values()) == 2


def test_training_on_an_evaluation_split_is_refused_unless_leakage_is_allowed(store):
    with store.read() as conn:
        dataset = _dataset(conn)
        with pytest.raises(XlcliError, match="--split test: that is an evaluation split.*--allow-leakage"):
            build(conn, dataset, (PairSource("queries", ("en",)),), split="test")
        with pytest.raises(XlcliError, match="no such split"):
            build(conn, dataset, (PairSource("queries", ("en",)),), split="dev")
        leaky = build(conn, dataset, (PairSource("queries", ("en",)),), split="test", allow_leakage=True)
    assert leaky.pairs and all(p.scope == "conv-b" for p in leaky.pairs)
    assert sum(leaky.leaks.values()) == len(leaky.pairs)


def test_a_source_without_pairs_is_an_error_naming_it(store):
    with store.read() as conn:
        dataset = _dataset(conn)
        with pytest.raises(XlcliError, match="--pairs queries:it: .*no Italian queries .*split 'train'"):
            build(conn, dataset, (PairSource("queries", ("en", "it")),))
        with pytest.raises(XlcliError, match="--pairs generated:de: .*no generated German queries"):
            build(conn, dataset, (PairSource("generated", ("de",)),))


def test_typo_variants_are_seeded_by_batch_and_position_and_follow_the_probability():
    maker = TypoMaker("ielab", 0.5, seed=7, langs=["en", "es"])
    texts = ["Where is Marcus travelling in August?"] * 200
    langs = ["en"] * 200
    first = maker.variants(texts, langs, micro=3)
    assert first == TypoMaker("ielab", 0.5, seed=7, langs=["en"]).variants(texts, langs, micro=3)
    assert first != maker.variants(texts, langs, micro=4)
    changed = [v for v in first if v is not None]
    assert 70 <= len(changed) <= 130 and all(v != texts[0] for v in changed)
    assert len(set(changed)) > 20  # a fresh misspelling each time, not one fixed variant
    assert all(v is None for v in TypoMaker("ielab", 0.0, 7, ["en"]).variants(texts[:20], langs[:20], 0))
    assert TypoMaker("ielab", 1.0, 7, ["es"]).variants(["¿Dónde vive la hermana de Tomás?"], ["es"], 0)[0] is not None
    with pytest.raises(XlcliError, match="cannot misspell zh queries"):
        TypoMaker("ielab", 0.5, 7, ["zh"])
