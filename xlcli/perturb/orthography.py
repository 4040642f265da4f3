"""Orthographic errors per language: dropped or confused diacritics and spelling confusions.

Two kinds of rule, both data:

- ``diacritic``: every letter whose canonical decomposition is a base letter plus combining
  marks may lose its marks (``é→e``, ``ñ→n``, ``ü→u``, ``й→и``, ``ё→е`` — the rule ``drop``),
  plus the language's own confusions and spellings-out listed in :data:`RULES`
  (``é↔è``, ``ü→ue``, ``ß→ss`` ...).
- ``confusion``: spellings that native writers confuse (es b/v, ll/y, silent h; de ie/ei,
  dass/das; fr é/er/ez; ru и/й, е/ё, ь/ъ, о/а in unstressed position ...).

A rule is ``(name, pattern, replacement[, condition])``: ``pattern`` is a regular expression
matched against the *lowercase* word (anchors ``^``/``$`` mean word start/end, lookarounds give
context), ``replacement`` is the text put in its place (``\\1`` refers to a group). The only
condition is ``polysyllabic``: the word has two or more vowels, the proxy for "this vowel may be
unstressed" since written Russian does not mark stress (a monosyllable's vowel is stressed).
A rule applies only where its replacement is typable on the language's layout; the replaced
text keeps the case of what it replaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from xlcli.perturb.layouts import Layout

# (name, pattern, replacement[, condition]) per language and kind.
RULES: dict[str, dict[str, list[tuple[str, ...]]]] = {
    "en": {
        "diacritic": [],
        "confusion": [
            ("ie/ei", "ie", "ei"), ("ie/ei", "ei", "ie"),
            ("double letter", r"([a-z])\1", r"\1"),
            ("able/ible", "able$", "ible"), ("able/ible", "ible$", "able"),
            ("ance/ence", "ance$", "ence"), ("ance/ence", "ence$", "ance"),
            ("their/there", "^their$", "there"), ("their/there", "^there$", "their"),
        ],
    },
    "es": {
        "diacritic": [],
        "confusion": [
            ("b/v", "b", "v"), ("b/v", "v", "b"),
            ("ll/y", "ll", "y"), ("ll/y", "y(?=[aeiouáéíóú])", "ll"),
            ("silent h", "^h", ""),
            ("c/z/s", "z", "s"), ("c/z/s", "c(?=[eiéí])", "s"),
            ("g/j", "g(?=[eiéí])", "j"), ("g/j", "j(?=[eiéí])", "g"),
        ],
    },
    "de": {
        "diacritic": [("ä>ae", "ä", "ae"), ("ö>oe", "ö", "oe"), ("ü>ue", "ü", "ue"), ("ß>ss", "ß", "ss")],
        "confusion": [
            ("ie/ei", "ie", "ei"), ("ie/ei", "ei", "ie"),
            ("dass/das", "^dass$", "das"), ("dass/das", "^das$", "dass"),
            ("seit/seid", "^seit$", "seid"), ("seit/seid", "^seid$", "seit"),
            ("ä/e", "ä", "e"),
            ("ck/k", "ck", "k"), ("tz/z", "tz", "z"),
            ("silent h", "(?<=[aeiouäöü])h(?=[lmnr])", ""),
            ("double letter", r"([a-zß])\1", r"\1"),
        ],
    },
    "fr": {
        "diacritic": [("é>è", "é", "è"), ("è>é", "è", "é"), ("ê>é", "ê", "é"), ("ê>è", "ê", "è")],
        "confusion": [
            ("é/er/ez", "é$", "er"), ("é/er/ez", "é$", "ez"), ("é/er/ez", "er$", "é"),
            ("é/er/ez", "ez$", "é"), ("é/er/ez", "er$", "ez"), ("é/er/ez", "ée$", "é"),
            ("ai/ais/ait", "ais$", "ait"), ("ai/ais/ait", "ait$", "ais"), ("ai/ais/ait", "ai$", "ais"),
            ("silent ending", "(?<=[aeiouéè])s$", ""), ("silent ending", "ent$", "e"),
            ("an/en", "en", "an"), ("an/en", "an", "en"),
            ("double letter", r"([a-z])\1", r"\1"),
        ],
    },
    "it": {
        "diacritic": [("è>é", "è", "é"), ("é>è", "é", "è")],
        "confusion": [
            ("double letter", r"([a-z])\1", r"\1"),
            ("cu/qu", "cu(?=[aeio])", "qu"), ("cu/qu", "qu", "cu"),
            ("silent h", "^h", ""),
            ("gli/li", "gli", "li"),
        ],
    },
    "pt": {
        "diacritic": [("á>à", "á", "à"), ("à>á", "à", "á"), ("é>ê", "é", "ê"), ("ê>é", "ê", "é"),
                      ("ó>ô", "ó", "ô"), ("ô>ó", "ô", "ó")],
        "confusion": [
            ("ç/ss", "ç", "ss"), ("ç/ss", "ss", "ç"),
            ("s/z", "(?<=[aeiou])s(?=[aeiou])", "z"), ("s/z", "(?<=[aeiou])z(?=[aeiou])", "s"),
            ("x/ch", "x", "ch"), ("x/ch", "ch", "x"),
            ("ão/am", "ão$", "am"), ("ão/am", "am$", "ão"),
            ("silent h", "^h", ""),
            ("g/j", "g(?=[ei])", "j"), ("g/j", "j(?=[ei])", "g"),
        ],
    },
    "ru": {
        "diacritic": [],
        "confusion": [
            ("и/й", "и", "й"), ("и/й", "й", "и"),
            ("е/ё", "е", "ё"), ("е/ё", "ё", "е"),
            ("ь/ъ", "ь", "ъ"), ("ь/ъ", "ъ", "ь"),
            ("о/а unstressed", "о", "а", "polysyllabic"), ("о/а unstressed", "а", "о", "polysyllabic"),
            ("тся/ться", "тся$", "ться"), ("тся/ться", "ться$", "тся"),
        ],
    },
}

VOWELS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœаеёиоуыэюя"
KINDS = ("diacritic", "confusion")

# A match: (position in the word, length replaced, replacement (lowercase), rule name).
Match = tuple[int, int, str, str]

_BASE: dict[str, str] = {}


def base_letter(char: str) -> str:
    """``char`` without its diacritics (``é→e``, ``й→и``), or ``char`` when it has none."""
    base = _BASE.get(char)
    if base is None:
        parts = unicodedata.normalize("NFD", char)
        base = char
        if len(parts) > 1 and all(unicodedata.combining(c) for c in parts[1:]):
            base = parts[0]
        _BASE[char] = base
    return base


@dataclass(frozen=True, eq=False)
class Rule:
    kind: str
    name: str
    pattern: re.Pattern
    replacement: str
    polysyllabic: bool


class Orthography:
    """The compiled rules of one language on one layout."""

    def __init__(self, lang: str, layout: Layout):
        self.lang = lang
        self.typable = layout.typable
        self.rules: list[Rule] = []
        for kind in KINDS:
            for rule in RULES.get(lang, {}).get(kind, []):
                name, pattern, replacement, *condition = rule
                self.rules.append(Rule(kind, name, re.compile(pattern), replacement, condition == ["polysyllabic"]))

    def matches(self, low: str) -> dict[str, list[Match]]:
        """Every way each kind of rule can change the lowercase word ``low``, in a fixed order."""
        found: dict[str, list[Match]] = {"diacritic": [], "confusion": []}
        typable = self.typable
        drops = found["diacritic"]
        for i, char in enumerate(low):
            base = base_letter(char)
            if base != char and base in typable:
                drops.append((i, 1, base, "drop"))
        vowels = None
        for rule in self.rules:
            if rule.polysyllabic:
                if vowels is None:
                    vowels = sum(1 for c in low if c in VOWELS)
                if vowels < 2:
                    continue
            for m in rule.pattern.finditer(low):
                if m.end() == m.start() or (m.end() - m.start() == len(low) and not rule.replacement):
                    continue  # an empty match, or one that would delete the whole word
                new = m.expand(rule.replacement)
                if new == m.group(0) or any(c not in typable for c in new):
                    continue
                found[rule.kind].append((m.start(), m.end() - m.start(), new, rule.name))
        return found
