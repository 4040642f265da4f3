"""English training questions in other words: word-by-word translation and code-switching.

Both read MUSE dictionaries with :func:`xlcli.generate.lexicon.read_muse` and split text with its
:func:`~xlcli.generate.lexicon.tokenize` (no third dictionary reader), in the en→xx direction:

- **translate-train** (:meth:`WordTranslator.translate`): every word the dictionary knows is
  replaced by its first translation (MUSE lists the most frequent first), so an English question
  becomes a question-shaped pseudo-translation; punctuation and word order stay;
- **code-switching** (:meth:`WordTranslator.code_switch`; Qin et al., IJCAI 2020, "CoSDA-ML:
  Multi-Lingual Code-Switching Data Augmentation for Zero-Shot Cross-Lingual NLP"): a chosen
  fraction of the translatable words, each replaced by its translation in a randomly chosen
  target language; every other character of the question stays as it was.

Numbers, names and words no dictionary knows are kept. A capitalised word is a name when the
dataset's passages show it to be one (capitalised away from a sentence start more often than
written in lower case — the rule of :class:`~xlcli.generate.lexicon.CorpusStats`): MUSE would
otherwise turn "Caroline" into "carolina" and "Mel" into "мел".
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xlcli import languages
from xlcli.errors import XlcliError
from xlcli.generate.lexicon import CorpusStats, Lexicon, Token, read_muse, tokenize


def parse_lexicons(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``--lexicon es=PATH`` (repeatable, or comma-separated) → ((lang, absolute path), ...), sorted."""
    found: dict[str, str] = {}
    for value in values:
        for item in (v.strip() for v in value.split(",")):
            if not item:
                continue
            lang, sep, path = item.partition("=")
            if not sep or not path.strip():
                raise XlcliError(f"--lexicon {item!r}: give LANG=PATH, e.g. --lexicon es=muse/en-es.txt")
            code = languages.check(lang.strip(), where="--lexicon")
            if code == "en":
                raise XlcliError("--lexicon en=...: the lexicons translate English questions; give one per target language (es=PATH)")
            if code in found:
                raise XlcliError(f"--lexicon {code}: given twice")
            found[code] = str(Path(path.strip()).expanduser().resolve())
    return tuple(sorted(found.items()))


def translator_name(lexicon: Lexicon) -> str:
    """The ``queries.translator`` of translate-train rows: the dictionary, by content."""
    return f"lexicon:{lexicon.sha256[:12]}"


@dataclass
class _Word:
    start: int
    end: int
    token: Token


class WordTranslator:
    """en→xx word replacement with one dictionary per target language and a dataset's names."""

    def __init__(self, lexicons: dict[str, Lexicon], passages: Iterable[str]):
        self.lexicons = lexicons
        self.stats = CorpusStats(passages, set())

    @classmethod
    def read(cls, paths: tuple[tuple[str, str], ...], passages: Iterable[str]) -> WordTranslator:
        return cls({lang: read_muse(Path(path)) for lang, path in paths}, passages)

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(sorted(self.lexicons))

    def _words(self, text: str) -> list[_Word]:
        words, cursor = [], 0
        for token in tokenize(text):
            start = text.find(token.surface, cursor)
            if start < 0:  # cannot happen (surfaces are substrings, in order); keep the word as it is
                continue
            words.append(_Word(start, start + len(token.surface), token))
            cursor = start + len(token.surface)
        return words

    def _target(self, token: Token, lang: str) -> str | None:
        """The translation of one word, or None to keep it (number, name, unknown word)."""
        if token.number or (token.capitalised and self.stats.is_name(token.norm)):
            return None
        targets = self.lexicons[lang].entries.get(token.norm)
        return targets[0] if targets else None

    @staticmethod
    def _replace(text: str, replacements: list[tuple[_Word, str]]) -> str:
        out, cursor = [], 0
        for word, target in sorted(replacements, key=lambda r: r[0].start):
            out += [text[cursor:word.start], target]
            cursor = word.end
        return "".join(out) + text[cursor:]

    def translate(self, text: str, lang: str) -> str:
        """Every known word of ``text`` in ``lang`` (first MUSE translation), the rest kept."""
        replacements = [(w, t) for w in self._words(text) if (t := self._target(w.token, lang)) is not None]
        return self._replace(text, replacements)

    def switchable(self, text: str) -> list[tuple[_Word, list[tuple[str, str]]]]:
        """The words of ``text`` some target language translates, each with its (lang, translation)s."""
        found = []
        for word in self._words(text):
            options = [(lang, t) for lang in self.langs if (t := self._target(word.token, lang)) is not None]
            if options:
                found.append((word, options))
        return found

    def code_switch(self, text: str, rate: float, seed: int) -> tuple[str, int]:
        """``text`` with round(rate × n) of its n translatable words switched; (text, words switched).

        Which words and which language each is switched into are drawn from ``seed`` alone.
        """
        candidates = self.switchable(text)
        k = min(len(candidates), round(rate * len(candidates)))
        if k == 0:
            return text, 0
        rng = random.Random(seed)
        chosen = rng.sample(range(len(candidates)), k)
        replacements = []
        for i in sorted(chosen):
            word, options = candidates[i]
            replacements.append((word, rng.choice(options)[1]))
        return self._replace(text, replacements), k


def check_languages(translator_langs: tuple[str, ...], needed: Iterable[str], what: str) -> None:
    """Every language of ``needed`` has a lexicon, or one clear error naming the first missing."""
    for lang in needed:
        if lang not in translator_langs:
            raise XlcliError(f"{what}: no --lexicon for {languages.name(lang)} (give --lexicon {lang}=PATH, a MUSE en-{lang} dictionary)")
