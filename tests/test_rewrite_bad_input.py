"""xlcli rewrite on bad input: one `Error:` line on stderr, exit code 2, no traceback, every table unchanged."""

from __future__ import annotations

import pytest
from conftest import assert_refused, snapshot

GOOD = "what qué\ndog perro\nname nombre\n"


@pytest.fixture
def store(small_store, tmp_path):
    small_store("perturb", "--protocol", "ielab", "--langs", "es,de,en", "--variants", "2")
    (tmp_path / "en-es.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "en-de.txt").write_text("dog hund\n", encoding="utf-8")
    small_store("rewrite", "--name", "taken", "--backend", "lexicon", "--lexicon", f"es={tmp_path / 'en-es.txt'}")
    return small_store


def _refused(cli, *args, says: str):
    before = snapshot(cli.db)
    assert_refused(cli("rewrite", *map(str, args), ok=False), cli.db, before, says)


def test_malformed_lexicon_line_is_named(store, tmp_path):
    bad = tmp_path / "bad" / "en-es.txt"
    bad.parent.mkdir()
    bad.write_text("dog perro\ncat\nhouse casa\n", encoding="utf-8")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"es={bad}", says=f"{bad}:2")


def test_language_without_a_lexicon(store, tmp_path):
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"es={tmp_path / 'en-es.txt'}", "--langs", "es,de",
             says="no --lexicon for de")


def test_target_equal_to_the_source_points_to_spell(store, tmp_path):
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"en={tmp_path / 'en-es.txt'}", "--langs", "en",
             says="--backend spell")


def test_lexicon_whose_direction_cannot_be_told(store, tmp_path):
    plain = tmp_path / "dictionary.txt"
    plain.write_text(GOOD, encoding="utf-8")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"es={plain}", says="cannot tell")


def test_missing_lexicon_file(store, tmp_path):
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"es={tmp_path / 'nope' / 'en-es.txt'}", says="en-es.txt")


def test_mt_model_that_cannot_be_found(store, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "opus-mt-es-en"
    empty.mkdir()
    _refused(store, "--name", "x", "--backend", "mt", "--model", empty, "--langs", "es", says="model")
    _refused(store, "--name", "x", "--backend", "mt", "--model", "no-such-org/opus-mt-es-en", "--langs", "es",
             says="no-such-org/opus-mt-es-en")


def test_mt_without_a_model(store):
    _refused(store, "--name", "x", "--backend", "mt", "--langs", "es", says="--model")


def test_name_taken_by_a_run_with_other_parameters(store, tmp_path):
    _refused(store, "--name", "taken", "--backend", "lexicon", "--lexicon", f"es={tmp_path / 'en-es.txt'}", "--translations", "2",
             says="already exists with other parameters")


def test_unknown_language_variant_set_backend_split(store, tmp_path):
    lexicon = f"es={tmp_path / 'en-es.txt'}"
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", lexicon, "--langs", "xx", says="unknown language code")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", lexicon, "--variants", "nope", says="no such variant set")
    _refused(store, "--name", "x", "--backend", "nope", says="unknown backend")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", lexicon, "--split", "dev", says="no such split")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"it={tmp_path / 'en-es.txt'}", "--langs", "it",
             says="no it queries")


def test_no_queries_of_a_language_in_the_split(store, tmp_path):
    # The small store's French translation belongs to conv-a, which is not in the test split.
    (tmp_path / "en-fr.txt").write_text("dog chien\n", encoding="utf-8")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", f"fr={tmp_path / 'en-fr.txt'}", "--split", "test",
             says="no fr queries in split 'test'")


def test_absurd_numbers_and_misplaced_options(store, tmp_path):
    lexicon = f"es={tmp_path / 'en-es.txt'}"
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", lexicon, "--translations", "0", says="--translations 0")
    _refused(store, "--name", "x", "--backend", "lexicon", "--lexicon", lexicon, "--batch-size", "0", says="--batch-size 0")
    _refused(store, "--name", "x", "--backend", "spell", "--langs", "en", "--translations", "3", says="--translations")
    _refused(store, "--name", "x", "--backend", "spell", "--langs", "es", "--to", "en", says="drop --to")
    _refused(store, "--name", "x", "--backend", "spell", "--langs", "ru", says="no vocabulary")
    _refused(store, "--name", " ", "--backend", "lexicon", "--lexicon", lexicon, says="--name")
