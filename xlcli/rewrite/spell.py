"""Same-language spelling correction: each word to the nearest word of a vocabulary, by frequency.

The classic baseline of the typo-robust retrieval literature (e.g. Zhuang & Zuccon 2021 compare
with a spell-checker in front of the retriever). The vocabulary of a language is built from the
dataset's passages in that language (word frequencies) and, where given, one side of a bilingual
dictionary (its words ranked by the dictionary's order). Never from the queries: the clean form of
a misspelled evaluation query would then be in the vocabulary by construction.

Per word: a number is kept; a vocabulary word is ``kept`` (or given its accents back, ``folded``:
``cancion`` → ``canción``); a word the lemmatiser knows is ``kept`` as correctly spelled (an
inflection the corpus happens not to contain must not be "corrected" into its neighbour); otherwise
the nearest vocabulary word within the edit budget of :mod:`xlcli.rewrite.fuzzy` (``fuzzy``),
the most frequent on a tie; else ``unknown``, kept. English possessives and elisions (``Jolene's``,
``l'été``) are corrected on the part before/after the apostrophe.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from xlcli.generate.lexicon import _TOKEN
from xlcli.rewrite import text as T
from xlcli.rewrite.cascade import lemmatizer
from xlcli.rewrite.cascade import op_json as _op
from xlcli.rewrite.fuzzy import FuzzyIndex

CORPUS_WEIGHT = 1_000_000  # one passage occurrence outweighs any dictionary rank


class Vocabulary:
    """Folded word → (the surface the corpus writes most, count)."""

    def __init__(self, corpus: Iterable[str], ranked: Iterable[str] = ()):
        surfaces: Counter = Counter()
        for text in corpus:
            for match in _TOKEN.finditer(text):
                word = match.group()
                if not word[0].isdigit():
                    surfaces[word.lower()] += 1
        counts: dict[str, int] = {}
        best: dict[str, tuple[int, str]] = {}
        for surface, n in surfaces.items():
            key = T.fold(surface)
            counts[key] = counts.get(key, 0) + n * CORPUS_WEIGHT
            if key not in best or (n, surface) > best[key]:
                best[key] = (n, surface)
        for rank, word in enumerate(ranked):
            key = T.fold(word)
            if key not in best:
                best[key] = (0, word.lower())
            counts[key] = counts.get(key, 0) + max(1, CORPUS_WEIGHT - 1 - rank)
        self.surface = {key: surface for key, (_, surface) in best.items()}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.surface)


class Speller:
    """Corrects texts of one language against one vocabulary."""

    def __init__(self, vocabulary: Vocabulary, lang: str):
        self.v = vocabulary
        self.lang = lang
        tools = lemmatizer(lang)
        self._known = tools[1] if tools else (lambda word: False)
        self._index: FuzzyIndex | None = None
        self._cache: dict[str, tuple[str, str, int]] = {}

    def _fuzzy(self) -> FuzzyIndex:
        if self._index is None:
            self._index = FuzzyIndex(sorted(self.v.counts.items()))
        return self._index

    def _word(self, word: str) -> tuple[str, str, int]:
        """(output, operation JSON, unknown 0/1)."""
        for mark in ("'", "’"):
            if mark in word:
                before, _, after = word.partition(mark)
                whole = T.fold(word) in self.v.surface or self._known(word)
                if not whole and before and after:
                    # Jolene's → correct "Jolene"; l'été → correct "été"
                    fix_before = len(after) <= 2
                    part = before if fix_before else after
                    out, op, unknown = self._word(part)
                    joined = out + mark + after if fix_before else before + mark + out
                    step = json.loads(op)["step"]
                    return joined, _op(word, step, joined), unknown
        key = T.fold(word)
        if key in self.v.surface:
            surface = self.v.surface[key]
            if surface == word.lower():
                return word, _op(word, "kept", word), 0
            out = T.recase(surface, word)
            return out, _op(word, "folded", out), 0
        if self._known(word):
            return word, _op(word, "kept", word, known="lemmatiser"), 0
        match = self._fuzzy().lookup(key)
        if match is not None:
            out = T.recase(self.v.surface[match.term], word)
            return out, _op(word, "fuzzy", out, dist=match.distance), 0
        return word, _op(word, "unknown", word), 1

    def rewrite(self, text: str, scope: str | None = None) -> tuple[str, str, int]:
        """(corrected text, operations_json, unknown words); the query's punctuation stays as it is."""
        parts, ops, unknown, cursor = [], [], 0, 0
        for match in _TOKEN.finditer(text):
            word = match.group()
            if word[0].isdigit():
                found = (word, _op(word, "number", word), 0)
            else:
                found = self._cache.get(word)
                if found is None:
                    found = self._cache[word] = self._word(word)
            parts.append(text[cursor : match.start()])
            parts.append(found[0])
            ops.append(found[1])
            unknown += found[2]
            cursor = match.end()
        parts.append(text[cursor:])
        return "".join(parts).strip(), "[" + ",".join(ops) + "]", unknown
