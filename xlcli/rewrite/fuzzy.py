"""Typo-tolerant lookup: the nearest word of a vocabulary within an edit budget (symspellpy).

SymSpell (Garbe 2012; symspellpy) precomputes the deletions of every vocabulary word, so a lookup
costs a few hash probes instead of a distance computation per vocabulary word (two-edit lookups go
through a smaller candidate index, see :class:`FuzzyIndex`) — tens of
microseconds against a 100,000-word MUSE side, where ``rapidfuzz.process.extractOne`` over the
whole vocabulary costs milliseconds (``bench/rewrite_speed.py`` measures both). Distances are
Damerau–Levenshtein (optimal string alignment), so a swap of neighbouring letters — one of the
perturbations of Zhuang & Zuccon's protocol — costs one edit, as a typist would count it.

The budget grows with the word's length:

- fewer than 4 letters: no lookup. A 3-letter word is one edit away from dozens of others
  (``sol`` → ``sal``, ``son``, ``sil``); a guess is more often wrong than right, and the protocol
  of the typo-robust retrieval literature never perturbs words that short anyway;
- 4–7 letters: one edit; 8 letters and more: two. That is a normalised similarity of at least
  0.75 (1 − distance / length), the threshold the measured prototype used (DESIGN.md), and it keeps
  a correctly spelled word that is simply missing from the dictionary from being "corrected" into
  an unrelated one two edits away (``casas`` is not ``cosa``).

Among candidates at the smallest distance the most frequent wins (``count``: corpus frequency, or
a dictionary's rank turned into one), then the alphabetically first, so results never depend on
insertion order. Words are compared folded (see :func:`xlcli.rewrite.text.fold`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_LENGTH = 4
LONG = 8
MAX_DISTANCE = 2
ENDS = 2  # two-edit candidates share their first or their last ENDS letters with the word
PREFIX_LENGTH = 7  # symspellpy's default: deletions of the first 7 letters only, a smaller index


def budget(word: str) -> int:
    """Edits allowed for a word of this length (0 = do not look it up)."""
    n = len(word)
    if n < MIN_LENGTH:
        return 0
    return 1 if n < LONG else MAX_DISTANCE


@dataclass(frozen=True)
class Match:
    term: str
    distance: int
    count: int


class FuzzyIndex:
    """Nearest vocabulary word by edit distance; ``words`` are (folded word, count) pairs.

    One edit: a SymSpell index of single deletions (about 8 entries a word; complete — every word
    one edit away is found). Two edits, asked only for words of 8 letters or more and only when
    nothing is one edit away: a rapidfuzz OSA scan over a *candidate index* — the words sharing the
    first or the last two letters and within two letters of the length (a few hundred words). Two typos that hit both
    ends of a long word are missed; in exchange the index builds in about 60% of the time of a
    two-edit SymSpell index (~800,000 deletions for a 95,000-word MUSE side; building dominates a run).
    """

    def __init__(self, words: Iterable[tuple[str, int]]):
        from symspellpy import SymSpell

        self._sym = SymSpell(max_dictionary_edit_distance=1, prefix_length=PREFIX_LENGTH, count_threshold=1)
        self._words: list[str] = []
        self._counts: list[int] = []
        self._ends: dict[tuple[str, str, int], list[int]] = {}  # (first 2, last 2, length) → words
        for word, count in words:
            if len(word) < MIN_LENGTH - 1:  # too short to be within budget of a ≥ 4-letter word
                continue
            count = max(1, int(count))
            self._sym.create_dictionary_entry(word, count)
            if len(word) >= LONG - MAX_DISTANCE:
                i = len(self._words)
                self._words.append(word)
                self._counts.append(count)
                self._ends.setdefault((word[:ENDS], "", len(word)), []).append(i)
                self._ends.setdefault(("", word[-ENDS:], len(word)), []).append(i)
        self.size = len(self._sym.words)

    def __contains__(self, word: str) -> bool:
        return word in self._sym.words

    def lookup(self, word: str) -> Match | None:
        from symspellpy import Verbosity

        edits = budget(word)
        if edits == 0:
            return None
        found = self._sym.lookup(word, Verbosity.CLOSEST, max_edit_distance=1, include_unknown=False, transfer_casing=False)
        found = [s for s in found if s.distance > 0 and len(s.term) >= MIN_LENGTH - 1]
        if found:
            best = min(found, key=lambda s: (s.distance, -s.count, s.term))
            return Match(best.term, best.distance, best.count)
        if edits < 2:
            return None
        return self._two_edits(word)

    def _two_edits(self, word: str) -> Match | None:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        n = len(word)
        ids = list({i for length in range(n - MAX_DISTANCE, n + MAX_DISTANCE + 1)
                    for key in ((word[:ENDS], "", length), ("", word[-ENDS:], length)) for i in self._ends.get(key, ())})
        if not ids:
            return None
        ids.sort(key=lambda i: (-self._counts[i], self._words[i]))  # extractOne keeps the first of equals
        hit = process.extractOne(word, [self._words[i] for i in ids], scorer=OSA.distance, score_cutoff=MAX_DISTANCE)
        if hit is None or hit[1] == 0:
            return None
        i = ids[hit[2]]
        return Match(self._words[i], int(hit[1]), self._counts[i])


def rank_counts(words: Iterable[str], top: int = 10_000_000) -> Iterable[tuple[str, int]]:
    """(word, pseudo-count) from a ranked word list: earlier = more frequent, every count distinct."""
    for rank, word in enumerate(words):
        yield word, top - rank
