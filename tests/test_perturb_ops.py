"""perturb: layouts, character operations, orthographic rules and protocols on hand-checked examples."""

from __future__ import annotations

import json

import pytest

from xlcli.errors import XlcliError
from xlcli.perturb import layouts, operations, tables
from xlcli.perturb.protocols import PROTOCOLS, Spec, perturb


class Draws:
    """A ``random()`` that returns given values: the operations' draws, chosen by hand."""

    def __init__(self, *values: float):
        self.values = list(values)

    def __call__(self) -> float:
        return self.values.pop(0)


# ---------------------------------------------------------------- layouts (checked on a keyboard picture)


@pytest.mark.parametrize(
    "lang, letter, expected",
    [
        ("en", "s", "wedxza"),     # QWERTY home row
        ("en", "q", "wa"),         # digits are keys but not letters
        ("en", "z", "asx"),
        ("de", "z", "tugh"),       # QWERTZ: z sits where y is on QWERTY
        ("de", "y", "asx"),
        ("de", "ü", "pßöä"),       # ß on the number row above, ö and ä below
        ("fr", "a", "zqé"),        # AZERTY: é sits above-right of a on the number row
        ("fr", "m", "lùp"),
        ("es", "ñ", "lp"),
        ("it", "ò", "làpèé"),      # è and é share a key
        ("pt", "ç", "lp"),
        ("ru", "а", "вкепсм"),     # ЙЦУКЕН: а between в and п
        ("ru", "й", "цф"),
        ("ru", "д", "лжщзбю"),
    ],
)
def test_keyboard_neighbours(lang, letter, expected):
    got = tables.get(lang).neighbours[letter]
    assert sorted(got) == sorted(expected), (lang, letter, got)


def test_layout_letters_and_scripts():
    assert tables.get("en").letters == "abcdefghijklmnopqrstuvwxyz"
    assert set(tables.get("de").letters) == set("abcdefghijklmnopqrstuvwxyzäöüß")
    assert set(tables.get("fr").letters) == set("abcdefghijklmnopqrstuvwxyzéèçàù")
    assert set(tables.get("es").letters) == set("abcdefghijklmnopqrstuvwxyzñç")
    ru = tables.get("ru")
    assert ru.script == "CYRILLIC" and len(ru.letters) == 33 and "ё" in ru.letters
    assert all("\u0400" <= c <= "\u04ff" for c in ru.letters)
    # dead keys make letters typable without putting them on keys
    es = tables.get("es").layout
    assert "á" in es.typable and "á" not in es.letters
    assert set(tables.supported()) == {"en", "de", "fr", "es", "it", "pt", "ru"}
    assert "pt-PT" in layouts.shipped()


def test_user_layout_file(tmp_path):
    path = tmp_path / "abc.json"
    path.write_text(json.dumps({"rows": [{"base": "abc"}, {"base": "xyz", "offset": 0.5}]}), encoding="utf-8")
    layout = layouts.load(str(path))
    assert layout.letters == "abcxyz"
    # row 2 starts half a key right: x (0.5) touches a (0) and b (1); y (1.5) touches b and c
    assert layout.neighbours["x"] == "aby" and layout.neighbours["b"] == "acxy"
    t = tables.get("xx", layout)
    assert perturb("bay cab", t, Spec.make("ielab"), 1).variants


@pytest.mark.parametrize(
    "content, message",
    [
        ("[]", "expected a JSON object"),
        ('{"rows": []}', "non-empty list"),
        ('{"rows": [{"shift": "A"}]}', "non-empty \"base\""),
        ('{"rows": [{"base": "123"}]}', "no letters"),
        ('{"rows": [{"base": "ab", "offset": "x"}]}', "must be a number"),
        ('{"rows": [{"base": "ab", "shift": "ABC"}]}', "more keys"),
        ('{"format": "other/2", "rows": [{"base": "ab"}]}', "unknown format"),
        ("{", "not valid JSON"),
    ],
)
def test_bad_layout_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(XlcliError, match=message):
        layouts.load(str(path))


def test_unknown_layout_and_language_list_the_supported_ones():
    with pytest.raises(XlcliError, match="shipped layouts are de, en, es, fr, it, pt, pt-PT, ru"):
        layouts.load("dvorak")
    with pytest.raises(XlcliError, match="supported languages are de, en, es, fr, it, pt, ru"):
        tables.check_lang("zh")


# ---------------------------------------------------------------- character operations


def op(name, word, *draws, lang="en"):
    fn = dict(operations.CHAR_OPS)[name]
    w = word
    return fn(w, w.lower(), len(w) > 1 and w.isupper(), Draws(*draws), tables.get(lang))


def test_insert():
    # position int(0.5 * 6) = 3, letter int(0.0 * 26) = 'a'
    assert op("insert", "paint", 0.5, 0.0) == (3, "", "a")
    assert op("insert", "PAINT", 0.99, 0.999) == (5, "", "Z")  # all caps → capital
    # Cyrillic word on the ru layout: a Cyrillic letter
    pos, old, new = op("insert", "кот", 0.0, 0.5, lang="ru")
    assert (pos, old) == (0, "") and new == tables.get("ru").letters[16]


def test_delete():
    assert op("delete", "paint", 0.2) == (1, "a", "")


def test_substitute_keeps_case_and_never_draws_the_same_letter():
    assert op("substitute", "Melanie", 0.0, 0.0) == (0, "M", "A")
    # draw 'a' for an 'a': drawn again among the 25 others: int(0.0 * 25) = 0 → skip 'a' → 'b'
    assert op("substitute", "paint", 0.2, 0.0, 0.0) == (1, "a", "b")


def test_transpose_swaps_distinct_neighbours():
    assert op("transpose", "paint", 0.0) == (0, "pa", "ap")
    # "llama": position 0 holds "ll" (no change): the other spots are 1, 2, 3 → int(0.5 * 3) = 1 → spot 2
    assert op("transpose", "llama", 0.0, 0.5) == (2, "am", "ma")
    assert op("transpose", "aaa", 0.0) is None


def test_keyboard_substitutes_a_neighbour():
    # "sun": position 0 = 's', neighbours "adewxz", int(0.5 * 6) = 3 → 'w'
    assert op("keyboard", "sun", 0.0, 0.5) == (0, "s", "w")
    assert op("keyboard", "Sun", 0.0, 0.0) == (0, "S", "A")
    assert op("keyboard", "дом", 0.0, 0.0, lang="ru") == (0, "д", "б")  # neighbours sorted: б ж з л щ ю
    # a letter with no key (é on QWERTY) is passed over for one that has one
    assert op("keyboard", "éé", 0.0) is None


# ---------------------------------------------------------------- orthographic rules


def ortho(lang, word):
    found = tables.get(lang).orthography.matches(word)
    return {kind: {(word[:p] + new + word[p + n:], rule) for p, n, new, rule in found[kind]} for kind in found}


def test_diacritic_rules():
    assert ortho("es", "cuándo")["diacritic"] == {("cuando", "drop")}
    assert ortho("es", "niño")["diacritic"] == {("nino", "drop")}
    assert ortho("de", "müde")["diacritic"] == {("mude", "drop"), ("muede", "ü>ue")}
    assert ortho("de", "heißt")["diacritic"] == {("heisst", "ß>ss")}
    assert ortho("fr", "élève")["diacritic"] == {("elève", "drop"), ("éleve", "drop"), ("èlève", "é>è"), ("éléve", "è>é")}
    assert ortho("ru", "ёжик")["diacritic"] == {("ежик", "drop")}
    assert ortho("ru", "мой")["diacritic"] == {("мои", "drop")}
    assert ortho("en", "paint")["diacritic"] == set()


def test_confusion_rules():
    assert ("vien", "b/v") in ortho("es", "bien")["confusion"]
    assert ("yamar", "ll/y") in ortho("es", "llamar")["confusion"]
    assert ("acer", "silent h") in ortho("es", "hacer")["confusion"]
    assert ("das", "dass/das") in ortho("de", "dass")["confusion"]
    assert ("dass", "dass/das") in ortho("de", "das")["confusion"]
    assert ("spiel", "ie/ei") not in ortho("de", "spiel")["confusion"] and ("speil", "ie/ei") in ortho("de", "spiel")["confusion"]
    assert {("manger", "é/er/ez"), ("mangez", "é/er/ez")} <= ortho("fr", "mangé")["confusion"]
    molоko_rules = ortho("ru", "молоко")["confusion"]
    assert ("малоко", "о/а unstressed") in molоko_rules and ("молока", "о/а unstressed") in molоko_rules
    assert not any(rule == "о/а unstressed" for _, rule in ortho("ru", "кот")["confusion"])  # one vowel: stressed
    assert ("учиться", "тся/ться") in ortho("ru", "учится")["confusion"]
    assert ("обьём", "ь/ъ") in ortho("ru", "объём")["confusion"]


def test_rules_keep_case():
    t = tables.get("de")
    out = perturb("Übung", t, Spec.make("diacritics", variants=5), 3)
    assert {v.text for v in out.variants} == {"Ubung", "Uebung"}


# ---------------------------------------------------------------- protocols on whole queries


def test_ielab_changes_exactly_one_non_stopword():
    t = tables.get("en")
    out = perturb("When did Melanie paint a sunrise?", t, Spec.make("ielab"), 13)
    assert len(out.variants) == 10 and len({v.text for v in out.variants}) == 10
    for v in out.variants:
        (o,) = v.ops
        assert o.word in (2, 3, 5)  # Melanie, paint, sunrise — not When/did/a
        assert v.damerau == 1 and v.levenshtein == (2 if o.op == "transpose" else 1)
        assert out.source[: o.at] + o.new + out.source[o.at + len(o.old):] == v.text


def test_skips_say_why():
    en, ru = tables.get("en"), tables.get("ru")
    assert perturb("What is it to me?", en, Spec.make("ielab"), 1).skip.startswith("no eligible word")
    assert perturb("¿? 42", en, Spec.make("ielab"), 1).skip == "no words"
    assert perturb("Πού ζει η αδελφή;", ru, Spec.make("ielab"), 1).skip == "script not typable on ru layout (Greek)"
    assert perturb("When did Melanie paint?", en, Spec.make("diacritics"), 1).skip.startswith("no letter with a diacritic")


def test_foreign_words_in_a_typable_query_are_kept():
    out = perturb("Когда Melanie нарисовала рассвет?", tables.get("ru"), Spec.make("mixed", variants=30), 5)
    assert out.variants
    for v in out.variants:
        assert "Melanie" in v.text
        assert not any("a" <= c.lower() <= "z" for o in v.ops for c in o.new)


def test_variants_are_a_function_of_text_protocol_params_seed():
    t = tables.get("es")
    text = "¿Cuándo pintó Melanie un amanecer?"
    for protocol in PROTOCOLS:
        a = perturb(text, t, Spec.make(protocol), 7)
        assert a == perturb(text, t, Spec.make(protocol), 7)
        assert [v.text for v in a.variants] != [v.text for v in perturb(text, t, Spec.make(protocol), 8).variants]
    # asking for more variants extends the list: the first ten stay the same
    ten = perturb(text, t, Spec.make("ielab"), 7).variants
    assert perturb(text, t, Spec.make("ielab", variants=25), 7).variants[:10] == ten


def test_diacritics_gives_only_the_variants_that_exist():
    out = perturb("¿Cuándo pintó Melanie un amanecer?", tables.get("es"), Spec.make("diacritics"), 1)
    assert sorted(v.text for v in out.variants) == sorted([
        "¿Cuando pintó Melanie un amanecer?", "¿Cuándo pinto Melanie un amanecer?", "¿Cuando pinto Melanie un amanecer?",
    ])


def test_spec_validation():
    with pytest.raises(XlcliError, match="unknown protocol"):
        Spec.make("typo")
    with pytest.raises(XlcliError, match="--rate applies"):
        Spec.make("ielab", rate=0.2)
    with pytest.raises(XlcliError, match="--max-edits does not apply"):
        Spec.make("ielab", max_edits=3)
    with pytest.raises(XlcliError, match=r"--rate must be in \(0, 1\]"):
        Spec.make("rate", rate=0)
    with pytest.raises(XlcliError, match="--variants"):
        Spec.make("ielab", variants=0)
    assert Spec.make("rate").params() == {"variants": 10, "rate": 0.1, "max_edits": 2}
    assert Spec.make("ielab").params() == {"variants": 10}
