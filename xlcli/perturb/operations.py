"""Character operations on one word: the five typo kinds of the typo-robust dense retrieval
literature (Zhuang & Zuccon, "Dealing with Typos for BERT-based Passage Retrieval and Ranking",
EMNLP 2021; "CharacterBERT and Self-Teaching for Improving the Robustness of Dense Retrievers on
Queries with Typos", SIGIR 2022): random insertion, random deletion, random substitution,
swapping two neighbouring characters, and substituting a key's keyboard neighbour.

Each operation takes the word, its lowercase form (same length), whether the word is written
in capitals, the RNG's ``random`` method and the language tables, and returns
``(position, old, new)`` — the characters at ``position`` that change — or ``None`` when it
cannot change this word (nothing to swap in ``aaa``, no key with neighbours). Inserted and
substituted letters come only from the layout's letters (so a Cyrillic word only ever gets
Cyrillic letters); a substituted letter keeps the case of the letter it replaces, an inserted
one is lowercase unless the word is all capitals. Every operation changes the word.

Random draws are ``int(rnd() * n)``: IEEE doubles make this the same on every platform and
Python version, and it is three times faster than ``randrange``.
"""

from __future__ import annotations

from collections.abc import Callable

from xlcli.perturb.tables import LangTables

Edit = tuple[int, str, str]
Rnd = Callable[[], float]


def insert(word: str, low: str, shouting: bool, rnd: Rnd, t: LangTables) -> Edit | None:
    pos = int(rnd() * (len(word) + 1))
    letters = t.letters
    char = letters[int(rnd() * len(letters))]
    return pos, "", t.upper[char] if shouting else char


def delete(word: str, low: str, shouting: bool, rnd: Rnd, t: LangTables) -> Edit | None:
    if len(word) < 2:
        return None
    pos = int(rnd() * len(word))
    return pos, word[pos], ""


def substitute(word: str, low: str, shouting: bool, rnd: Rnd, t: LangTables) -> Edit | None:
    pos = int(rnd() * len(word))
    letters = t.letters
    char = letters[int(rnd() * len(letters))]
    if char == low[pos]:
        # Draw again among the other letters: one extra draw, still uniform over the rest.
        index = letters.index(char)
        other = int(rnd() * (len(letters) - 1))
        char = letters[other + 1 if other >= index else other]
    old = word[pos]
    return pos, old, t.upper[char] if (shouting or old.isupper()) else char


def transpose(word: str, low: str, shouting: bool, rnd: Rnd, t: LangTables) -> Edit | None:
    pos = int(rnd() * (len(word) - 1))
    if low[pos] == low[pos + 1]:
        spots = [i for i in range(len(word) - 1) if low[i] != low[i + 1]]
        if not spots:
            return None
        pos = spots[int(rnd() * len(spots))]
    return pos, word[pos : pos + 2], word[pos + 1] + word[pos]


def keyboard(word: str, low: str, shouting: bool, rnd: Rnd, t: LangTables) -> Edit | None:
    neighbours = t.neighbours
    pos = int(rnd() * len(word))
    near = neighbours.get(low[pos])
    if not near:
        spots = [i for i, c in enumerate(low) if c in neighbours]
        if not spots:
            return None
        pos = spots[int(rnd() * len(spots))]
        near = neighbours[low[pos]]
    char = near[int(rnd() * len(near))]
    old = word[pos]
    return pos, old, t.upper[char] if (shouting or old.isupper()) else char


# Order matters for reproducibility: a draw picks an index into this tuple.
CHAR_OPS: tuple[tuple[str, Callable[..., Edit | None]], ...] = (
    ("insert", insert),
    ("delete", delete),
    ("substitute", substitute),
    ("transpose", transpose),
    ("keyboard", keyboard),
)
CHAR_OP_NAMES = tuple(name for name, _ in CHAR_OPS)
