"""Splitting a query into the pieces a rewrite works on, and the folding that lookups share.

A query is cut into *words* (letters, with internal apostrophes: ``l'homme``, ``don't``), *numbers*
(``3``, ``20.06``, ``7:30``) and the text between them (spaces, punctuation), which is copied to
the output as it is — except Spanish inverted marks (``¿ ¡``), which mean nothing in the target
text, and hyphens or apostrophes that tie a word to the next (``a-t-il``), which become spaces. The word pattern is the one pseudo-query generation uses (:mod:`xlcli.generate.lexicon`).

A word is *sentence-initial* when nothing but opening punctuation precedes it since the start or the
last sentence end: its capital says nothing about it being a name.

*Folding* (lowercase, accents and other combining marks dropped, ``ß`` → ``ss``) is what the
dictionary's second lookup and the typo-tolerant index compare, so that a dropped or confused accent
(``canción``/``cancion``, ``ё``/``е``, ``й``/``и``) — the commonest misspelling of all in these
languages — costs no edit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from xlcli.generate.lexicon import _TOKEN

_ENDS = set(".!?¿¡")
_DROP = str.maketrans("", "", "¿¡")
# Hyphens and apostrophes right after a word join it to the next in the source language
# (apprend-elle, a-t-il, d'« ... »); in the rewritten text they would glue translations together.
_JOINERS = re.compile(r"^['’-]+")


@dataclass(frozen=True)
class Piece:
    """A word or number of a query, and the text that follows it up to the next one."""

    text: str
    number: bool
    initial: bool
    after: str


def split(text: str) -> tuple[str, list[Piece]]:
    """(text before the first word, the words and numbers with what follows each)."""
    pieces: list[Piece] = []
    matches = list(_TOKEN.finditer(text))
    head = text[: matches[0].start()] if matches else text
    initial = True
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        between = text[match.end() : end]
        word = match.group()
        pieces.append(Piece(word, word[0].isdigit(), initial, _JOINERS.sub(" ", between.translate(_DROP))))
        initial = any(c in _ENDS for c in between)
    return head.translate(_DROP), pieces


def join(head: str, outputs: list[str], pieces: list[Piece]) -> str:
    """Reassemble the rewritten text (runs of white space become one space)."""
    parts = [head]
    for output, piece in zip(outputs, pieces):
        parts.append(output)
        parts.append(piece.after)
    return " ".join("".join(parts).split())


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lowercase, no combining marks (é → e, ё → е, й → и), ß → ss."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def capitalised(word: str) -> bool:
    return word[:1].isupper()


def recase(new: str, old: str) -> str:
    """``new`` with the capital first letter (or all capitals) of ``old``."""
    if not new or not old:
        return new
    if len(old) > 1 and old.isupper():
        return new.upper()
    if old[0].isupper():
        return new[0].upper() + new[1:]
    return new
