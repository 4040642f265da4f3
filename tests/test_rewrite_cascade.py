"""The lexicon cascade step by step, on small dictionaries written in the test (MUSE format, en-xx read in reverse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlcli.errors import XlcliError
from xlcli.rewrite import lexicon
from xlcli.rewrite.cascade import Cascade, Options
from xlcli.rewrite.compound import Splitter
from xlcli.rewrite.fuzzy import FuzzyIndex, budget, rank_counts
from xlcli.rewrite.names import NameIndex, transliterate
from xlcli.rewrite.text import fold, split

ES = """the el
dog perro
dog can
hound perro
song canción
guitar guitarra
learn aprender
learns aprende
house casa
thing cosa
instrument instrumento
where dónde
sister hermana
"""
DE = """art kunst
exhibition ausstellung
exhibitions ausstellungen
birth geburt
day tag
birthday geburtstag
house haus
cake kuchen
dog hund
which welche
"""
RU = """dog собака
where где
lives живёт
sister сестра
"""
NAMES = NameIndex({"conv-a": ["Jolene", "Melanie", "Marcus"], "conv-b": ["Priya", "Tomás"],
                   None: ["Jolene", "Marcus", "Melanie", "Priya", "Tomás"]})


def _dict(tmp_path: Path, lang: str, content: str) -> lexicon.Dictionary:
    path = tmp_path / f"en-{lang}.txt"
    path.write_text(content, encoding="utf-8")
    return lexicon.load(path, lang, "en")


def _cascade(tmp_path, lang, content, stopwords=frozenset(), **options) -> Cascade:
    return Cascade(_dict(tmp_path, lang, content), lang, names=NAMES, stopwords=stopwords, options=Options(**options))


def _steps(ops_json: str) -> list[tuple[str, str, str]]:
    return [(op["word"], op["step"], op["out"]) for op in json.loads(ops_json)]


def test_reverse_reading_keeps_dictionary_order(tmp_path):
    d = _dict(tmp_path, "es", ES)
    assert d.direction == "reverse"
    assert d.entries["perro"] == ["dog", "hound"]  # the order of the English headwords
    assert d.entries["can"] == ["dog"]
    assert d.rank["el"] < d.rank["perro"] < d.rank["canción"]
    direct = tmp_path / "es-en.txt"
    direct.write_text("perro dog\nperro hound\n", encoding="utf-8")
    assert lexicon.load(direct, "es", "en").entries == {"perro": ["dog", "hound"]}


def test_direction_that_the_file_name_does_not_tell_is_refused(tmp_path):
    path = tmp_path / "dictionary.txt"
    path.write_text("dog perro\n", encoding="utf-8")
    with pytest.raises(XlcliError, match="cannot tell"):
        lexicon.load(path, "es", "en")


def test_exact_folded_and_lemma_steps(tmp_path):
    c = _cascade(tmp_path, "es", ES)
    text, ops, unknown = c.rewrite("dónde cancion aprendiendo")
    assert _steps(ops) == [("dónde", "exact", "where"), ("cancion", "folded", "song"), ("aprendiendo", "lemma", "learn")]
    assert text == "where song learn" and unknown == 0


def test_lemma_switched_off_leaves_the_inflected_word(tmp_path):
    c = _cascade(tmp_path, "es", ES, lemma=False, fuzzy=False)
    assert _steps(c.rewrite("aprendiendo")[1]) == [("aprendiendo", "unknown", "aprendiendo")]


def test_fuzzy_finds_the_misspelled_entry(tmp_path):
    c = _cascade(tmp_path, "es", ES)
    text, ops, unknown = c.rewrite("instrumneto guitrra")
    (first, second) = json.loads(ops)
    assert (first["step"], first["out"], first["key"], first["dist"]) == ("fuzzy", "instrument", "instrumento", 1)
    assert (second["step"], second["out"], second["dist"]) == ("fuzzy", "guitar", 1)
    assert text == "instrument guitar" and unknown == 0


def test_fuzzy_is_not_tried_on_short_words_or_far_matches(tmp_path):
    c = _cascade(tmp_path, "es", ES)
    # "pero" is one edit from "perro" but only 4 letters long → allowed one edit; "xasa" → "casa"
    assert _steps(c.rewrite("xasa")[1]) == [("xasa", "fuzzy", "house")]
    assert _steps(c.rewrite("cxsx")[1])[0][1] == "unknown"  # two edits: beyond a 4-letter word's budget
    assert _steps(c.rewrite("caa")[1])[0][1] == "unknown"   # 3 letters: no lookup at all


def test_a_correctly_spelled_word_is_not_corrected_into_its_neighbour(tmp_path):
    # "cosas" is a real Spanish word one edit from "casas"; the lemmatiser knows it: kept, counted unknown.
    c = _cascade(tmp_path, "es", ES.replace("thing cosa\n", ""))
    ops = _steps(c.rewrite("cosas")[1])
    assert ops == [("cosas", "unknown", "cosas")]


def test_fuzzy_ties_go_to_the_better_ranked_entry():
    index = FuzzyIndex(rank_counts(["casa", "cosa", "cama"]))
    assert index.lookup("cxsa").term == "casa"
    index = FuzzyIndex(rank_counts(["cosa", "casa", "cama"]))
    assert index.lookup("cxsa").term == "cosa"
    assert [budget(w) for w in ("sol", "casa", "guitarra", "instrumento")] == [0, 1, 2, 2]


def test_compound_splitting_german(tmp_path):
    c = _cascade(tmp_path, "de", DE)
    text, ops, _ = c.rewrite("Welche Kunstausstellung")
    assert text == "which art exhibition"
    assert json.loads(ops)[1]["step"] == "compound" and json.loads(ops)[1]["parts"] == ["kunst", "ausstellung"]
    # Koehn & Knight: the split whose parts have the highest geometric mean frequency (here: best rank).
    ranks = {"geburt": 10, "tag": 5, "kuchen": 7, "haus": 3, "geburtstag": 2}
    assert Splitter(ranks.get).split("geburtstagskuchen") == ["geburtstag", "kuchen"]  # linking -s
    assert Splitter({**ranks, "geburtstag": 900}.get).split("geburtstagskuchen") == ["geburt", "tag", "kuchen"]
    assert Splitter(ranks.get).split("geburtstag") is None  # a known word is never split
    assert Splitter(ranks.get).split("hauskuchen") == ["haus", "kuchen"]


def test_compound_step_can_be_switched_off(tmp_path):
    c = _cascade(tmp_path, "de", DE, compound=False, fuzzy=False)
    assert _steps(c.rewrite("Welche Kunstausstellung")[1])[1][1] == "name"  # a German noun nothing translated: kept


def test_names_are_matched_to_the_scopes_proper_nouns(tmp_path):
    c = _cascade(tmp_path, "ru", RU)
    text, ops, unknown = c.rewrite("Где живёт сестра Мелани?", scope="conv-a")
    assert text == "where lives sister Melanie?"
    assert _steps(ops)[-1] == ("Мелани", "name", "Melanie") and unknown == 0
    # The same word in a scope without that name is transliterated (BGN/PCGN), not matched.
    text, ops, _ = c.rewrite("Где живёт сестра Мелани?", scope="conv-b")
    assert _steps(ops)[-1] == ("Мелани", "transliterated", "Melani")
    assert transliterate("Щукин") == "Shchukin" and transliterate("Jolene") == "Jolene"


def test_inflected_latin_name_finds_the_passages_spelling(tmp_path):
    c = _cascade(tmp_path, "de", DE)
    assert _steps(c.rewrite("Welche Jolenes Hund", scope="conv-a")[1])[1] == ("Jolenes", "name", "Jolene")


def test_capitalised_word_inside_a_sentence_is_kept_not_fuzzed(tmp_path):
    c = _cascade(tmp_path, "es", ES + "pretty jolie\n")
    # "Jolies" is one edit from "jolie": a name in the middle of a sentence is kept, not translated.
    assert _steps(c.rewrite("dónde Jolies", scope="conv-b")[1])[1] == ("Jolies", "name", "Jolies")


def test_numbers_punctuation_and_stopwords(tmp_path):
    c = _cascade(tmp_path, "es", ES, stopwords=frozenset({"de", "la"}))
    text, ops, unknown = c.rewrite("¿Dónde está la guitarra de 2023?")
    assert text == "where está the guitar 2023?"
    steps = _steps(ops)
    # "la" is a stopword the dictionary knows through its lemma (el): translated; "de" is dropped.
    assert ("2023", "number", "2023") in steps and ("de", "stopword", "") in steps and ("la", "lemma", "the") in steps
    assert ("está", "unknown", "está") in steps and unknown == 1


def test_translations_n_keeps_several_in_dictionary_order(tmp_path):
    one = _cascade(tmp_path, "es", ES).rewrite("perro")[0]
    two = _cascade(tmp_path, "es", ES, translations=2).rewrite("perro")[0]
    three = _cascade(tmp_path, "es", ES, translations=3).rewrite("perro guitarra")[0]
    assert (one, two, three) == ("dog", "dog hound", "dog hound guitar")


def test_french_elision_is_cut(tmp_path):
    c = _cascade(tmp_path, "fr", "the le\nsummer été\n")
    assert c.rewrite("l'été")[0] == "the summer"


def test_split_marks_sentence_starts():
    head, pieces = split("¿Dónde vive Ana? Ana vive en Madrid, 3 años.")
    assert head == ""
    assert [(p.text, p.initial) for p in pieces][:5] == [("Dónde", True), ("vive", False), ("Ana", False), ("Ana", True), ("vive", False)]
    assert fold("Canción") == "cancion" and fold("Straße") == "strasse" and fold("ёлка") == "елка"


def test_short_words_keep_their_accents_and_hyphens_do_not_glue(tmp_path):
    c = _cascade(tmp_path, "fr", "has a\nor ou\nwhere où\nsummer été\nlearn apprendre\n", stopwords=frozenset({"elle", "il", "à"}))
    text, ops, _ = c.rewrite("Où apprend-elle à a-t-il")
    steps = _steps(ops)
    assert ("à", "stopword", "") in steps  # not folded into "a" (has)
    assert text == "where learn has"  # hyphens become spaces; the euphonic -t- and the pronouns go
    assert _steps(c.rewrite("ete")[1]) == [("ete", "folded", "summer")]
    assert transliterate("Родилась") == "Rodilas"  # English Wikipedia's BGN/PCGN: no ’ for ь


def test_two_edits_only_for_long_words_and_only_when_nothing_is_one_edit_away():
    index = FuzzyIndex(rank_counts(["instrumento", "instrumentos", "guitarra", "hermana", "hermano"]))
    hit = index.lookup("instrmnto")  # 9 letters, two deletions
    assert (hit.term, hit.distance) == ("instrumento", 2)
    assert index.lookup("hermnaa").distance == 1  # swap of neighbours = one edit (OSA)
    assert index.lookup("hrmnaa") is None  # 6 letters: one edit allowed, two needed
    assert index.lookup("hermana") is None  # the word itself is not a correction
