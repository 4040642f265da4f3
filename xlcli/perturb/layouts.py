"""Keyboard layouts as data: which letters a language's typists have under their fingers and
which keys are neighbours.

Shipped layouts live in ``xlcli/perturb/layouts/<name>.json``: ``en`` (US QWERTY, ANSI),
``de`` (QWERTZ), ``fr`` (AZERTY), ``es`` (Spain), ``it``, ``pt`` (Brazil ABNT2), ``pt-PT``
(Portugal) and ``ru`` (ЙЦУКЕН). The layout of a language is the file named after its code;
``--layout LANG=NAME_OR_FILE`` picks another shipped one or a user file.

File format (``xlcli-keyboard-layout/1``), one JSON object::

    {
      "format": "xlcli-keyboard-layout/1",        # optional
      "name": "de", "title": "German QWERTZ",      # optional, shown in messages
      "rows": [                                    # top (number row) to bottom
        {"offset": 0,    "base": "^1234567890ß´", "shift": "°!\\"§$%&/()=?`"},
        {"offset": 1.5,  "base": "qwertzuiopü+",  "shift": "QWERTZUIOPÜ*"},
        {"offset": 1.75, "base": "asdfghjklöä#",  "shift": "ASDFGHJKLÖÄ'"},
        {"offset": 1.25, "base": "<yxcvbnm,.-",   "shift": ">YXCVBNM;:_"}
      ],
      "dead_keys": "âêîôûáéíóúàèìòù"               # optional: letters typed with a dead key
    }

Each character of ``base`` is one key (left to right); ``shift`` and ``altgr`` (optional) give
the same keys' other levels, character by character, a space meaning "nothing on this level".
``offset`` is where the row's first key starts, in key widths from the left edge (defaults:
0, 1.5, 1.75, 2.25 — the ANSI stagger). Key *i* of a row spans ``[offset + i, offset + i + 1)``.

Derived tables:
- the layout's *script*: the script most of its base-level letters are in;
- *letters*: lowercase letters of that script on any level of any key — the only characters
  random insertions and substitutions draw from;
- *typable*: letters plus ``dead_keys`` — what a typist of the language can produce;
- *neighbours*: two keys are neighbours when they are side by side in a row, or in adjacent
  rows with key centres less than one key width apart horizontally (so ``s`` neighbours
  ``w e a d z x`` on QWERTY). A letter's neighbours are the letters on its neighbouring keys.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from xlcli.errors import XlcliError
from xlcli.perturb import text as T

FORMAT = "xlcli-keyboard-layout/1"
DATA = Path(__file__).resolve().parent / "layouts"
DEFAULT_OFFSETS = (0.0, 1.5, 1.75, 2.25)
LEVELS = ("base", "shift", "altgr")


@dataclass(frozen=True, eq=False)
class Layout:
    name: str
    title: str
    source: str
    script: str
    letters: str                      # sorted lowercase letters on keys
    typable: frozenset[str]           # letters + dead-key letters (lowercase)
    neighbours: dict[str, str] = field(repr=False)  # lowercase letter -> its neighbours, sorted
    digest: str = ""                  # content hash: a user layout's identity in parameters


def shipped() -> list[str]:
    return sorted(p.stem for p in DATA.glob("*.json"))


def _fail(where: str, message: str) -> XlcliError:
    return XlcliError(f"layout {where}: {message} (see `xlcli perturb --help` for the layout file format)")


def parse(data: object, where: str) -> Layout:
    """Validate a layout object (already decoded from JSON) and derive its tables."""
    if not isinstance(data, dict):
        raise _fail(where, "expected a JSON object with a \"rows\" list")
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise _fail(where, f"unknown format {fmt!r}, expected {FORMAT!r}")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise _fail(where, "\"rows\" must be a non-empty list of rows")
    keys: list[tuple[int, int, float, str]] = []  # (row, column, x, characters on all levels)
    for r, row in enumerate(rows):
        place = f"row {r + 1}"
        if not isinstance(row, dict) or not isinstance(row.get("base"), str) or not row["base"]:
            raise _fail(where, f"{place} needs a non-empty \"base\" string")
        offset = row.get("offset", DEFAULT_OFFSETS[r] if r < len(DEFAULT_OFFSETS) else 0.5 * r)
        if isinstance(offset, bool) or not isinstance(offset, (int, float)):
            raise _fail(where, f"{place}: \"offset\" must be a number")
        levels = []
        for level in LEVELS:
            value = row.get(level, "")
            if not isinstance(value, str):
                raise _fail(where, f"{place}: \"{level}\" must be a string")
            if level != "base" and value and len(value) > len(row["base"]):
                raise _fail(where, f"{place}: \"{level}\" has more keys than \"base\"")
            levels.append(value)
        base = levels[0]
        for i, _char in enumerate(base):
            chars = "".join(level[i] for level in levels if i < len(level) and level[i] != " ")
            keys.append((r, i, float(offset) + i, T.nfc(chars)))
    dead = data.get("dead_keys", "")
    if not isinstance(dead, str):
        raise _fail(where, "\"dead_keys\" must be a string of letters")

    base_letters = [c for (_, _, _, chars) in keys for c in chars[:1] if c.isalpha()]
    if not base_letters:
        raise _fail(where, "no letters on its keys")
    # The most common script; ties go to the alphabetically first name (deterministic).
    counts = Counter(T.script_of(c) for c in base_letters)
    script = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]

    def key_letters(chars: str) -> list[str]:
        out = []
        for c in chars:
            low = T.lower(c)
            if low.isalpha() and T.script_of(low) == script and low not in out:
                out.append(low)
        return out

    per_key = [key_letters(chars) for (_, _, _, chars) in keys]
    letters = sorted({c for group in per_key for c in group})
    typable = set(letters) | {T.lower(c) for c in T.nfc(dead) if c.isalpha()}

    neighbours: dict[str, set[str]] = {}
    for a, (ra, ia, xa, _) in enumerate(keys):
        if not per_key[a]:
            continue
        for b, (rb, ib, xb, _) in enumerate(keys):
            if a == b or not per_key[b]:
                continue
            adjacent = (ra == rb and abs(ia - ib) == 1) or (abs(ra - rb) == 1 and abs(xa - xb) < 1.0)
            if adjacent:
                for letter in per_key[a]:
                    neighbours.setdefault(letter, set()).update(c for c in per_key[b] if c != letter)
    name = str(data.get("name") or where)
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return Layout(
        name=name,
        title=str(data.get("title") or name),
        source=where,
        script=script,
        letters="".join(letters),
        typable=frozenset(typable),
        neighbours={k: "".join(sorted(v)) for k, v in sorted(neighbours.items()) if v},
        digest=hashlib.blake2b(canonical.encode("utf-8"), digest_size=8).hexdigest(),
    )


def load_file(path: Path) -> Layout:
    from xlcli.datasets.files import read_json

    return parse(read_json(path), str(path))


@cache
def load_shipped(name: str) -> Layout:
    path = DATA / f"{name}.json"
    if not path.is_file():
        raise XlcliError(f"unknown keyboard layout {name!r}: shipped layouts are {', '.join(shipped())}")
    return parse(json.loads(path.read_text(encoding="utf-8")), name)


def load(spec: str) -> Layout:
    """A shipped layout by name (``de``, ``pt-PT``) or a layout file by path."""
    if spec in shipped():
        return load_shipped(spec)
    path = Path(spec)
    if path.suffix.lower() == ".json" or path.exists() or "/" in spec or "\\" in spec:
        if not path.exists():
            raise XlcliError(f"layout file {spec} does not exist (shipped layouts: {', '.join(shipped())})")
        return load_file(path)
    raise XlcliError(f"unknown keyboard layout {spec!r}: shipped layouts are {', '.join(shipped())}, or give a .json file")
