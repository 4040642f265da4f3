"""Names in queries: kept, transliterated into the target's script, matched to the passages' names.

Bilingual dictionaries translate names too (MUSE: "Caroline" → "carolina", "Mel" → "мел"), and a
typo-tolerant lookup would happily turn "Jolene" into "jolie" → "pretty". So a capitalised word is
first compared with the *proper nouns of the passages in the query's scope* (the LoCoMo
conversation; the whole corpus when there are no scopes): a close match is the name as the
passages spell it, which is what retrieval needs ("Мелани" → "Melanie", German "Jolenes" →
"Jolene"). Proper nouns are the words the passages capitalise away from a sentence start more
often than they write in lower case (:class:`xlcli.generate.lexicon.CorpusStats`).

Similarity is Jaro–Winkler (Winkler 1990), the classic measure for matching names in record
linkage: it rewards a shared beginning, and inflected or transliterated names differ mostly at the
end (Russian case endings, German genitive -s). A match needs at least ``THRESHOLD``.

Transliteration of Cyrillic uses BGN/PCGN (the romanisation English-language maps and news use),
in the simplified form of English Wikipedia for output, through ``iuliia``, a maintained package
implementing the standard schemes. English names come
into Russian by sound, so the candidates are also compared with a rendering that undoes the common
English→Russian correspondences (дж → j, х → h, кс → x), and with the word's case ending removed
(Айши → Айш, "Aish" ~ "Aisha"); the best score of the renderings counts. Scripts without a scheme here are kept as written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from xlcli.perturb.text import word_script
from xlcli.rewrite.text import fold

THRESHOLD = 0.85
MIN_LENGTH = 3
# English sounds as Russian writes them, undone before romanising (applied to lowercase Cyrillic).
_LOANS = (("дж", "j"), ("кс", "x"), ("кв", "qu"), ("ай", "ai"), ("ей", "ey"), ("ью", "ew"), ("х", "h"))
# Russian case endings of names (Айши, Ханне, Маркуса, Томасом): compared without them as well.
_ENDINGS = ("ом", "ем", "ой", "ей", "ою", "а", "я", "ы", "и", "у", "ю", "е")


@lru_cache(maxsize=100_000)
def transliterate(word: str) -> str:
    """``word`` in Latin letters when it is Cyrillic, else unchanged.

    The scheme is English Wikipedia's (BGN/PCGN without its apostrophes for ь/ъ and its
    disambiguating dots): what English text — the passages — writes ("Родилась" → "Rodilas").
    """
    if word_script(word) != "CYRILLIC":
        return word
    import iuliia

    return iuliia.WIKIPEDIA.translate(word)


def _renderings(word: str) -> list[str]:
    if word_script(word) != "CYRILLIC":
        return [fold(word)]
    import iuliia

    low = word.lower()
    stripped = [low[: -len(e)] for e in _ENDINGS if low.endswith(e) and len(low) - len(e) >= MIN_LENGTH]
    stems = [low, *stripped[:1]]
    forms = []
    for stem in stems:
        loan = stem
        for cyr, lat in _LOANS:
            loan = loan.replace(cyr, lat)
        forms += [fold(iuliia.BGN_PCGN.translate(stem)), fold(iuliia.WIKIPEDIA.translate(loan))]
    return list(dict.fromkeys(forms))


@dataclass
class NameIndex:
    """Proper nouns per scope (``None`` = the whole corpus), as the passages write them."""

    by_scope: dict[str | None, list[str]]
    _folded: dict[str | None, list[str]] = field(default_factory=dict)

    @classmethod
    def from_passages(cls, passages: Iterable[tuple[str | None, str]], stats) -> NameIndex:
        """``passages``: (scope, text); ``stats``: CorpusStats over the same texts."""
        from xlcli.generate.lexicon import tokenize

        # Per scope, each name in the spelling the passages use most (not "PRIYA" of a shouted line).
        counts: dict[str | None, Counter] = {}
        for scope, text in passages:
            found = counts.setdefault(scope, Counter())
            for token in tokenize(text):
                if token.capitalised and len(token.norm) >= MIN_LENGTH and stats.is_name(token.norm):
                    found[token.surface] += 1
        counts[None] = sum(counts.values(), Counter())
        by_scope = {}
        for scope, found in counts.items():
            best: dict[str, tuple[int, str]] = {}
            for surface, n in found.items():
                key = fold(surface)
                if key not in best or (n, surface) > best[key]:
                    best[key] = (n, surface)
            by_scope[scope] = sorted(surface for _, surface in best.values())
        return cls(by_scope)

    def nearest(self, word: str, scope: str | None) -> tuple[str, float] | None:
        """The scope's proper noun closest to ``word`` (score ≥ THRESHOLD), best score then alphabetical."""
        from rapidfuzz import process
        from rapidfuzz.distance import JaroWinkler

        if len(word) < MIN_LENGTH:
            return None
        names = self.by_scope.get(scope) if scope in self.by_scope else self.by_scope.get(None, [])
        if not names:
            return None
        folded = self._folded.get(scope)
        if folded is None:
            folded = self._folded[scope] = [fold(n) for n in names]
        best: tuple[float, str] | None = None
        for form in _renderings(word):
            # extractOne returns the first of equal scores; names are sorted, so ties go alphabetically.
            hit = process.extractOne(form, folded, scorer=JaroWinkler.normalized_similarity, score_cutoff=THRESHOLD)
            if hit is not None:
                candidate = (-hit[1], names[hit[2]])
                best = candidate if best is None else min(best, candidate)
        return None if best is None else (best[1], round(-best[0], 3))
