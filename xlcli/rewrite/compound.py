"""Compound splitting against a dictionary (Koehn & Knight, EACL 2003, "Empirical methods for compound splitting").

German (and Dutch, Swedish, ...) writes compounds as one word, and few of them are dictionary
entries: "Kunstausstellung" is not, "Kunst" and "Ausstellung" are. Koehn & Knight split a word into
known parts — allowing a linking element between them (the Fugen-s of "Geburtstag" and the like) —
and choose, among all splits (including none), the one with the highest *geometric mean of the
parts' frequencies*; a word that is itself known is never split. Frequencies here are a
dictionary's ranks turned into Zipf counts (1/rank), since the dictionary is all we have of the
query's language. Parts have at least ``MIN_PART`` letters (shorter ones match by accident: "er",
"an"); at most ``MAX_PARTS`` parts; the last part (the head) may be inflected, so it is also tried
through ``head_lookup`` (the lemmatiser).
"""

from __future__ import annotations

from collections.abc import Callable
from math import log

MIN_PART = 3
MAX_PARTS = 4
LINKERS = ("", "s", "es", "n", "en", "e", "er")


class Splitter:
    """``known(word) -> rank or None`` decides what a part is; words are folded lowercase."""

    def __init__(self, known: Callable[[str], int | None], head_lookup: Callable[[str], str | None] | None = None):
        self.known = known
        self.head_lookup = head_lookup

    def _part(self, piece: str, last: bool) -> tuple[str, int] | None:
        rank = self.known(piece)
        if rank is not None:
            return piece, rank
        if last and self.head_lookup is not None:
            lemma = self.head_lookup(piece)
            if lemma is not None and lemma != piece:
                rank = self.known(lemma)
                if rank is not None:
                    return lemma, rank
        return None

    def _splits(self, word: str, start: int, depth: int) -> list[list[tuple[str, int]]]:
        found: list[list[tuple[str, int]]] = []
        rest = word[start:]
        if len(rest) >= MIN_PART:
            whole = self._part(rest, last=True)
            if whole is not None:
                found.append([whole])
        if depth == 1:
            return found
        for end in range(start + MIN_PART, len(word) - MIN_PART + 1):
            piece = word[start:end]
            for linker in LINKERS:
                if linker and not piece.endswith(linker):
                    continue
                stem = piece[: len(piece) - len(linker)] if linker else piece
                if len(stem) < MIN_PART:
                    continue
                part = self._part(stem, last=False)
                if part is None:
                    continue
                for tail in self._splits(word, end, depth - 1):
                    found.append([part, *tail])
        return found

    def split(self, word: str) -> list[str] | None:
        """The best split into ≥ 2 known parts (their dictionary forms), or None."""
        if len(word) < 2 * MIN_PART or self.known(word) is not None:
            return None
        candidates = [s for s in self._splits(word, 0, MAX_PARTS) if len(s) >= 2]
        if not candidates:
            return None

        def score(parts: list[tuple[str, int]]) -> tuple[float, int]:
            # log of the geometric mean of 1/(rank+1); fewer parts first on a tie.
            return sum(-log(rank + 1) for _, rank in parts) / len(parts), -len(parts)

        best = max(candidates, key=lambda parts: (score(parts), [p for p, _ in parts]))
        return [p for p, _ in best]
