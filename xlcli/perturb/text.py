"""Words, scripts and letter case: the text facts every perturbation rests on.

A *word* is a maximal run of letters (Unicode categories L*; digits, ``_``, apostrophes and
hyphens separate words), found in the NFC form of the text so that a precomposed ``é`` is one
letter. A word's *script* is the Unicode script of its letters (``LATIN``, ``CYRILLIC``,
``GREEK`` ...), read from the first word of the character's Unicode name; a word that mixes
scripts has none. Nothing here depends on ``hash()`` or set order.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W\d_]+")

_SCRIPT: dict[str, str] = {}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def script_of(char: str) -> str:
    """The script of one letter, e.g. ``LATIN`` for ``é``, ``CYRILLIC`` for ``й``."""
    script = _SCRIPT.get(char)
    if script is None:
        name = unicodedata.name(char, "")
        script = name.split(" ", 1)[0] if name else "UNKNOWN"
        _SCRIPT[char] = script
    return script


def word_script(word: str) -> str | None:
    """The script shared by all letters of ``word``, or None when it mixes scripts."""
    first = script_of(word[0])
    for char in word[1:]:
        if script_of(char) != first:
            return None
    return first


def script_title(script: str) -> str:
    return script.title()


def lower(word: str) -> str:
    """Lowercase ``word`` keeping one character per character (``İ`` stays as it is), so that
    positions in the lowercase form are positions in the word."""
    low = word.lower()
    if len(low) == len(word):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in word)


def upper1(char: str) -> str:
    """Uppercase of one character when that is one character (``ß`` stays ``ß``)."""
    up = char.upper()
    return up if len(up) == 1 else char


def cased(new: str, old: str, shouting: bool) -> str:
    """``new`` (lowercase) in the case of the ``old`` characters it replaces: all capitals in an
    all-caps word (``shouting``), a capital first letter where ``old`` starts with one."""
    if not new:
        return new
    if shouting:
        return "".join(upper1(c) for c in new)
    if old and old[0].isupper():
        return upper1(new[0]) + new[1:]
    return new


def is_shouting(word: str) -> bool:
    return len(word) > 1 and word.isupper()
