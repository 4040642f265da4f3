"""Per-language tables, built once and reused for every query: layout letters and neighbours,
stopwords, orthographic rules. Generating tens of thousands of variants a second depends on
doing this work once, not per variant."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xlcli.errors import XlcliError
from xlcli.perturb import layouts
from xlcli.perturb.layouts import Layout
from xlcli.perturb.orthography import Orthography
from xlcli.perturb.text import upper1

STOPWORDS = Path(__file__).resolve().parent / "stopwords"
MIN_LETTERS = 3  # Zhuang & Zuccon: only words of at least 3 characters get a typo


def supported() -> list[str]:
    """Languages with a shipped layout named after them (``pt-PT`` is an alternative, not a language)."""
    return [name for name in layouts.shipped() if "-" not in name]


@cache
def stopwords(lang: str) -> frozenset[str]:
    """The project's small stopword list for ``lang`` (empty when there is none)."""
    path = STOPWORDS / f"{lang}.txt"
    if not path.is_file():
        return frozenset()
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].split())
    return frozenset(w.lower() for w in words)


@dataclass(frozen=True, eq=False)
class LangTables:
    lang: str
    layout: Layout
    letters: str                 # draw pool of random insertions/substitutions
    upper: dict[str, str]        # letter -> its capital (one character)
    neighbours: dict[str, str]
    stopwords: frozenset[str]
    script: str
    orthography: Orthography

    @property
    def description(self) -> str:
        return f"{self.lang} ({self.layout.title})"


def check_lang(lang: str, *, user_layout: bool = False) -> str:
    code = lang.strip()
    if code.lower() in supported():
        return code.lower()
    if user_layout and code:
        return code.lower()
    raise XlcliError(
        f"no keyboard layout for language {lang!r}: supported languages are {', '.join(supported())}"
        f" (or give one with --layout {code or 'LANG'}=FILE.json)"
    )


@cache
def _build(lang: str, layout: Layout) -> LangTables:
    return LangTables(
        lang=lang,
        layout=layout,
        letters=layout.letters,
        upper={c: upper1(c) for c in layout.letters},
        neighbours=layout.neighbours,
        stopwords=stopwords(lang),
        script=layout.script,
        orthography=Orthography(lang, layout),
    )


def get(lang: str, layout: Layout | None = None) -> LangTables:
    """Tables for ``lang`` on ``layout`` (default: the shipped layout named ``lang``)."""
    if layout is None:
        layout = layouts.load_shipped(check_lang(lang))
    return _build(lang, layout)
