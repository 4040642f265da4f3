"""perturb: properties over random words and sentences (hypothesis), and determinism across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA, Levenshtein

from xlcli.perturb import tables
from xlcli.perturb.protocols import PROTOCOLS, Spec, perturb
from xlcli.perturb.text import WORD

# Latin letters with the diacritics of the shipped languages and a few beyond (ø, ł, ő: not on any layout).
LATIN = "abcdefghijklmnopqrstuvwxyzáàâãäåçéèêëíìîïñóòôõöúùûüýÿßøłő"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
SEPARATORS = [" ", " ", " ", ", ", "? ", " - ", "'", " 42 "]


def words(alphabet: str):
    letters = st.text(alphabet=alphabet, min_size=1, max_size=12)
    return letters.map(lambda w: w.capitalize() if len(w) % 3 == 0 else (w.upper() if len(w) % 7 == 0 else w))


def sentences(alphabet: str):
    return st.lists(st.tuples(words(alphabet), st.sampled_from(SEPARATORS)), min_size=1, max_size=9).map(
        lambda parts: "".join(w + sep for w, sep in parts).strip()
    )


LATIN_LANGS = ["en", "es", "de", "fr", "it", "pt"]
CASES = st.one_of(
    st.tuples(st.sampled_from(LATIN_LANGS), sentences(LATIN)),
    st.tuples(st.just("ru"), sentences(CYRILLIC)),
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def budget(spec: Spec) -> int:
    return 1 if spec.protocol == "ielab" else spec.max_edits


def check_variants(text: str, lang: str, spec: Spec, seed: int) -> None:
    t = tables.get(lang)
    out = perturb(text, t, spec, seed)
    src = out.source
    source_words = [m.group() for m in WORD.finditer(src)]
    texts = [v.text for v in out.variants]
    assert len(set(texts)) == len(texts) and src not in texts          # differ from source and each other
    assert len(texts) <= spec.variants
    if out.skip is None:
        assert texts, "a query that is not skipped has variants"
    for v in out.variants:
        assert 1 <= len(v.ops) <= budget(spec)
        # the operations rebuild the variant: each names what it changed, where
        rebuilt, cursor = [], 0
        for o in v.ops:
            assert src[o.at : o.at + len(o.old)] == o.old
            rebuilt += [src[cursor : o.at], o.new]
            cursor = o.at + len(o.old)
        assert "".join(rebuilt) + src[cursor:] == v.text
        # changed words: one per operation, all others intact
        variant_words = [m.group() for m in WORD.finditer(v.text)]
        assert len(variant_words) == len(source_words)
        changed = sum(a != b for a, b in zip(source_words, variant_words))
        assert changed == len({o.word for o in v.ops}) == len(v.ops)
        # distances are rapidfuzz's and within the protocol's budget
        assert v.levenshtein == Levenshtein.distance(src, v.text) and v.damerau == OSA.distance(src, v.text)
        assert 1 <= v.damerau <= sum(max(len(o.old), len(o.new)) for o in v.ops)
        if spec.protocol == "ielab":
            assert v.damerau == 1 and v.levenshtein <= 2
        # every inserted or substituted character is the language's
        for o in v.ops:
            if o.op in ("insert", "substitute", "keyboard"):
                assert all(c.lower() in t.letters for c in o.new), (o, t.letters)
            elif o.op == "transpose":
                assert sorted(o.new) == sorted(o.old)
            elif o.op == "delete":
                assert len(o.old) == 1 and o.new == ""
            else:
                assert o.op in (("diacritic",) if spec.protocol == "diacritics" else ("diacritic", "confusion"))
                assert all(c.lower() in t.layout.typable for c in o.new), o
        if lang == "ru":
            assert not any(c.isascii() and c.isalpha() for c in v.text)


@SETTINGS
@given(case=CASES, seed=st.integers(0, 2**31), protocol=st.sampled_from(PROTOCOLS))
def test_variants_respect_the_protocol(case, seed, protocol):
    lang, text = case
    check_variants(text, lang, Spec.make(protocol), seed)


@SETTINGS
@given(case=CASES, seed=st.integers(0, 1000), rate=st.floats(0.01, 1.0), max_edits=st.integers(1, 4))
def test_rate_budget(case, seed, rate, max_edits):
    lang, text = case
    check_variants(text, lang, Spec.make("rate", variants=5, rate=rate, max_edits=max_edits), seed)
    check_variants(text, lang, Spec.make("mixed", variants=5, max_edits=max_edits), seed)


@SETTINGS
@given(word=words(CYRILLIC), seed=st.integers(0, 10**6))
def test_cyrillic_words_get_only_cyrillic(word, seed):
    out = perturb(word, tables.get("ru"), Spec.make("ielab", variants=5), seed)
    for v in out.variants:
        assert all("\u0400" <= c <= "\u04ff" for c in v.text)


@SETTINGS
@given(case=CASES, seed=st.integers(0, 10**6))
def test_same_inputs_same_variants(case, seed):
    lang, text = case
    t = tables.get(lang)
    for protocol in PROTOCOLS:
        assert perturb(text, t, Spec.make(protocol), seed) == perturb(text, t, Spec.make(protocol), seed)


DETERMINISM_SCRIPT = r"""
import json, random, sys
from xlcli.perturb import tables
from xlcli.perturb.protocols import PROTOCOLS, Spec, perturb
alphabets = {"es": "abcdefghijklmnopqrstuvwxyzáéíóúñü", "de": "abcdefghijklmnopqrstuvwxyzäöüß", "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"}
rng = random.Random(2024)
out = []
for i in range(60):
    lang = sorted(alphabets)[i % 3]
    words = ["".join(rng.choice(alphabets[lang]) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(1, 7))]
    text = " ".join(words).capitalize() + "?"
    for protocol in PROTOCOLS:
        o = perturb(text, tables.get(lang), Spec.make(protocol), 13)
        out.append([text, protocol, o.seed, o.skip, [[v.text, [op.as_dict() for op in v.ops], v.levenshtein, v.damerau] for v in o.variants]])
sys.stdout.write(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.slow
def test_determinism_across_processes_with_different_hash_seeds():
    results = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True, text=True, env=env, check=True)
        results.append(proc.stdout)
    assert results[0] == results[1]
    assert sum(len(r[4]) for r in json.loads(results[0])) > 500
