"""Offline cross-lingual pseudo-queries: salient passage terms translated with a bilingual dictionary.

Classic dictionary-based CLIR (e.g. Ballesteros & Croft, SIGIR 1996) standing in for a neural
query generator where none is at hand:

1. salient terms of a passage by TF-IDF over the dataset's passages (stopwords out);
2. a pseudo-query of a–b terms sampled by weight (without replacement, Efraimidis & Spirakis 2006),
   kept in passage order;
3. word-by-word translation with a MUSE dictionary (Conneau et al., ICLR 2018; ``source target`` per
   line): several targets → one sampled; numbers, names and words the dictionary lacks are kept
   as written in the passage.

Names: MUSE translates names too ("Caroline" → "carolina", "Mel" → "мел"), so a passage's
capitalised words are kept when the dataset shows them to be names: capitalised away from the
start of a sentence more often than written in lower case. A word capitalised only because it
opens a sentence ("Yesterday, ...") is translated like any other. English capitalises weekdays and
months too, so those are kept as well (a known limit of the rule).

Every choice is drawn from a generator seeded per (passage, language) (see
:mod:`xlcli.seeding`), so output does not depend on processing order.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xlcli.datasets.files import read_text
from xlcli.errors import XlcliError
from xlcli.seeding import derive_seed

# Words (letters, with internal apostrophes) and numbers (with decimal/time separators).
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,:]\d+)*")
_SENTENCE_OPENERS = set('.!?"“”«»„:;(')
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_APOSTROPHE = re.compile(r"['’]")
MIN_LETTERS = 3  # shorter words (ok, hi, tv) are rarely what a passage is about


@dataclass
class Lexicon:
    """A bilingual dictionary: lower-cased source word → its targets, in file order."""

    path: Path
    entries: dict[str, list[str]]
    sha256: str
    pairs: int

    def __len__(self) -> int:
        return len(self.entries)


def read_muse(path: Path) -> Lexicon:
    """Read a MUSE dictionary (``source target`` per line, space or tab separated)."""
    path = Path(path)
    content = read_text(path)  # names the file for missing/empty/non-UTF-8 input
    entries: dict[str, list[str]] = {}
    pairs = 0
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise XlcliError(
                f"{path}:{number}: expected `source target` (two words separated by a space or tab), got {len(fields)} field(s): {line.strip()[:60]!r}"
            )
        source, target = fields[0].lower(), fields[1]
        targets = entries.setdefault(source, [])
        if target not in targets:
            targets.append(target)
            pairs += 1
    return Lexicon(path, entries, hashlib.sha256(content.encode("utf-8")).hexdigest(), pairs)


@dataclass(frozen=True)
class Token:
    surface: str
    norm: str
    number: bool
    capitalised: bool
    sentence_start: bool


def tokenize(text: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        surface = _POSSESSIVE.sub("", match.group())
        before = text[: match.start()].rstrip()
        start = not before or before[-1] in _SENTENCE_OPENERS
        number = surface[0].isdigit()
        tokens.append(Token(surface, surface.lower(), number, not number and surface[0].isupper(), start))
    return tokens


@dataclass(frozen=True)
class Term:
    norm: str
    surface: str  # as first written in the passage (names are output this way)
    weight: float
    position: int
    number: bool
    name: bool


class CorpusStats:
    """Document frequencies and capitalisation counts over a dataset's passages."""

    def __init__(self, texts: Iterable[str], stopwords: set[str]):
        self.stopwords = stopwords
        self.df: Counter = Counter()
        self.mid_capitalised: Counter = Counter()
        self.lower: Counter = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            seen = set()
            for token in tokenize(text):
                seen.add(token.norm)
                if token.capitalised and not token.sentence_start:
                    self.mid_capitalised[token.norm] += 1
                elif not token.capitalised and not token.number:
                    self.lower[token.norm] += 1
            self.df.update(seen)

    def idf(self, norm: str) -> float:
        # Smoothed idf (as scikit-learn's TfidfVectorizer): never zero, defined for unseen terms.
        return math.log((1 + self.n) / (1 + self.df.get(norm, 0))) + 1.0

    def is_name(self, norm: str) -> bool:
        return self.mid_capitalised[norm] > self.lower[norm]

    def content(self, token: Token) -> bool:
        # Contractions left after the possessive is cut (I'm, don't, we'll) are function words.
        if token.number:
            return True
        return len(token.norm) >= MIN_LETTERS and token.norm not in self.stopwords and not _APOSTROPHE.search(token.norm)

    def terms(self, text: str) -> list[Term]:
        """The passage's distinct terms with tf·idf weights (all words if none is a content word)."""
        tokens = tokenize(text)
        chosen = [t for t in tokens if self.content(t)] or tokens
        tf = Counter(t.norm for t in chosen)
        capitalised_here = {t.norm for t in chosen if t.capitalised}
        terms: dict[str, Term] = {}
        for position, token in enumerate(chosen):
            if token.norm in terms:
                continue
            name = token.norm in capitalised_here and self.is_name(token.norm)
            terms[token.norm] = Term(token.norm, token.surface, tf[token.norm] * self.idf(token.norm), position,
                                     token.number, name)
        return list(terms.values())


@dataclass
class PseudoQuery:
    text: str
    terms: list[str]
    found: int = 0  # terms translated with the dictionary
    oov: int = 0  # terms the dictionary lacks (kept untranslated)
    kept: int = 0  # names and numbers, kept as they are
    seed: int = 0

    def as_metadata(self) -> dict:
        return {"seed": self.seed, "terms": self.terms, "found": self.found, "oov": self.oov, "kept": self.kept}


def sample_terms(terms: Sequence[Term], k: int, rng: random.Random) -> list[Term]:
    """k distinct terms, each drawn with probability proportional to its weight, in passage order."""
    if len(terms) <= k:
        picked = list(terms)
    else:
        # Efraimidis–Spirakis: the k largest u^(1/w) are a weighted sample without replacement.
        keyed = sorted(terms, key=lambda t: (rng.random() ** (1.0 / t.weight), -t.position), reverse=True)
        picked = keyed[:k]
    return sorted(picked, key=lambda t: t.position)


def translate_terms(terms: Sequence[Term], entries: dict[str, list[str]], rng: random.Random) -> PseudoQuery:
    words, query = [], PseudoQuery("", [t.norm for t in terms])
    for term in terms:
        if term.number or term.name:
            words.append(term.surface)
            query.kept += 1
        elif term.norm in entries:
            words.append(rng.choice(entries[term.norm]))
            query.found += 1
        else:
            words.append(term.surface)  # kept as written in the passage
            query.oov += 1
    query.text = " ".join(words)
    return query


@dataclass
class LexiconGenerator:
    """Pseudo-queries for (passage, language) pairs; ``lexicons`` maps language → dictionary."""

    stats: CorpusStats
    lexicons: dict[str, Lexicon]
    per_lang: int = 5
    min_terms: int = 3
    max_terms: int = 6
    seed: int = 0

    def queries(self, passage_key: str, text: str, lang: str) -> list[PseudoQuery]:
        terms = self.stats.terms(text)
        entries = self.lexicons[lang].entries
        found = []
        for idx in range(self.per_lang):
            seed = derive_seed(self.seed, passage_key, lang, idx)
            rng = random.Random(seed)
            k = rng.randint(self.min_terms, self.max_terms)
            query = translate_terms(sample_terms(terms, k, rng), entries, rng)
            query.seed = seed
            found.append(query)
        return found


def parse_terms_range(value: str) -> tuple[int, int]:
    """``"3-6"`` → (3, 6); ``"4"`` → (4, 4)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", value or "")
    if not match:
        raise XlcliError(f"--terms {value!r}: give a range such as 3-6 (or one number)")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if low < 1 or high < low:
        raise XlcliError(f"--terms {value!r}: need 1 <= a <= b")
    return low, high
