"""A bilingual dictionary for query translation: source-language word → target words, ranked.

Files are MUSE dictionaries (Conneau et al., ICLR 2018; ``source target`` per line), read by
:func:`xlcli.generate.lexicon.read_muse` (which names a malformed line). MUSE ships ``en-xx`` and
``xx-en`` files; translating ``xx`` queries into English reads an ``en-xx`` file *in reverse* and an
``xx-en`` file directly. The direction comes from the file name (``en-es.txt``, ``es-en.txt``,
``muse.en-es.0-5000.txt``); a name that does not tell is refused rather than guessed.

Ranking. A word's translations keep the dictionary's order. For a file read in reverse that is the
order of the English headwords, which MUSE lists roughly by English frequency — so the first
translation of ``perro`` is the commonest English word that ``perro`` translates, which is what the
measured prototype kept (DESIGN.md, "What moves the numbers"). MUSE's lists are not ranked by
frequency everywhere, so no more than that is claimed: ties in the typo-tolerant lookup and in
compound splitting use a word's *rank*, the position where the dictionary first lists it, as a
stand-in for its frequency (Zipf: frequency ∝ 1/rank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from xlcli.errors import XlcliError
from xlcli.generate.lexicon import read_muse
from xlcli.rewrite.text import fold

_PAIR = re.compile(r"(?:^|[^a-z])([a-z]{2,3})[-_]([a-z]{2,3})(?:[^a-z]|$)")


def name_pairs(path: Path) -> list[tuple[str, str]]:
    """The language pairs a file name spells (``en-es.txt`` → [("en", "es")])."""
    return _PAIR.findall(Path(path).name.lower())


@dataclass
class Dictionary:
    """``entries``: lowercase source word → target words in dictionary order; ``rank``: its position."""

    source: str
    target: str
    path: Path
    sha256: str
    direction: str  # "direct" | "reverse"
    entries: dict[str, list[str]]
    rank: dict[str, int] = field(default_factory=dict)
    folded: dict[str, list[str]] = field(default_factory=dict)  # folded key → source words, best rank first

    def __post_init__(self) -> None:
        if not self.rank:
            self.rank = {word: i for i, word in enumerate(self.entries)}
        if not self.folded:
            for word in self.entries:  # entries are in rank order
                self.folded.setdefault(fold(word), []).append(word)

    def __len__(self) -> int:
        return len(self.entries)

    def lookup_folded(self, key: str) -> list[str]:
        """Translations of every source word that folds to ``key``, the best-ranked word's first."""
        found: list[str] = []
        for word in self.folded.get(key, ()):
            for t in self.entries[word]:
                if t not in found:
                    found.append(t)
        return found

    def identity(self) -> dict:
        return {"path": str(self.path.resolve()), "sha256": self.sha256, "direction": self.direction, "entries": len(self)}


def direction(path: Path, source: str, target: str) -> str:
    """``direct`` for a ``source-target`` file name, ``reverse`` for ``target-source``."""
    for a, b in name_pairs(path):
        if (a, b) == (source, target):
            return "direct"
        if (a, b) == (target, source):
            return "reverse"
    raise XlcliError(
        f"--lexicon {source}={path}: cannot tell from the file name whether it is {source}-{target} or {target}-{source};"
        f" name it {target}-{source}.txt (read in reverse) or {source}-{target}.txt"
    )


def load(path: Path, source: str, target: str) -> Dictionary:
    """The dictionary translating ``source`` words into ``target``, from a MUSE file of either direction."""
    path = Path(path)
    how = direction(path, source, target)
    muse = read_muse(path)  # errors name the file and the line
    if how == "direct":
        entries = {word: list(targets) for word, targets in muse.entries.items()}
    else:
        entries: dict[str, list[str]] = {}
        for headword, targets in muse.entries.items():  # headwords in file order
            for word in targets:
                found = entries.setdefault(word.lower(), [])
                if headword not in found:
                    found.append(headword)
    if not entries:
        raise XlcliError(f"--lexicon {source}={path}: the dictionary has no entries")
    return Dictionary(source, target, path, muse.sha256, how, entries)
