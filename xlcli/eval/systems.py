"""What a system is: the thing a report row stands for and an eval run ranks with.

A system is an index, optionally applied to the queries as a rewrite run rewrote them
(translate-test, spelling correction; see :mod:`xlcli.eval.rewritten`); a fusion of systems will
be another kind of spec here. Everything that names systems (``eval --index``,
reports) parses and prints them with this module, so the text form is defined once:

- ``INDEX``                 the index alone
- ``INDEX@REWRITE``         the index on queries rewritten by REWRITE (what users type: index names
  use letters, digits and ``. _ + -``, so ``@`` is free)
- ``INDEX ⟲ REWRITE``       the same, as :attr:`SystemSpec.label` prints it (accepted back)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xlcli.errors import XlcliError

REWRITE_MARK = "@"
REWRITE_LABEL = " ⟲ "


@dataclass(frozen=True)
class SystemSpec:
    index: str
    rewrite: str | None = None

    @classmethod
    def parse(cls, text: str) -> SystemSpec:
        """``"INDEX"``, ``"INDEX@REWRITE"`` or ``"INDEX ⟲ REWRITE"`` → a spec; one-line error otherwise."""
        value = text.strip()
        mark = REWRITE_LABEL.strip()
        if mark in value:
            index, _, rewrite = value.partition(mark)
        elif REWRITE_MARK in value:
            index, _, rewrite = value.partition(REWRITE_MARK)
        else:
            index, rewrite = value, None
        index = index.strip()
        if not index:
            raise XlcliError(f"system {text!r}: no index name (expected INDEX or INDEX{REWRITE_MARK}REWRITE)")
        if rewrite is not None:
            rewrite = rewrite.strip()
            if not rewrite or REWRITE_MARK in rewrite or mark in rewrite:
                raise XlcliError(f"system {text!r}: expected INDEX{REWRITE_MARK}REWRITE with one rewrite name")
        return cls(index, rewrite)

    @property
    def name(self) -> str:
        """The typed form: ``INDEX`` or ``INDEX@REWRITE`` (file names, TREC tags, ``report --compare``)."""
        return self.index if self.rewrite is None else f"{self.index}{REWRITE_MARK}{self.rewrite}"

    @property
    def label(self) -> str:
        """How reports and tables name the system: ``INDEX`` or ``INDEX ⟲ REWRITE``."""
        return self.index if self.rewrite is None else f"{self.index}{REWRITE_LABEL}{self.rewrite}"


def parse_list(values: Iterable[str]) -> list[SystemSpec]:
    """Specs from repeated and/or comma-separated options (``--index a,b --index c``), in order."""
    return [SystemSpec.parse(part) for value in values for part in value.split(",") if part.strip()]


def parse_names(values: Iterable[str], *, where: str) -> list[str]:
    """Plain names from repeated and/or comma-separated options, in order, duplicates dropped."""
    names = list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))
    if not names:
        raise XlcliError(f"{where}: give at least one name")
    bad = [n for n in names if REWRITE_MARK in n or REWRITE_LABEL.strip() in n]
    if bad:
        raise XlcliError(f"{where} {bad[0]}: a rewrite run name, without {REWRITE_MARK!r}")
    return names


def with_rewrites(specs: Iterable[SystemSpec], rewrites: Iterable[str]) -> list[SystemSpec]:
    """``--index A,B --rewrite X,Y`` → A@X, A@Y, B@X, B@Y (a spec that names its rewrite already is kept as is)."""
    rewrites = list(rewrites)
    return [spec if spec.rewrite else SystemSpec(spec.index, rw) for spec in specs for rw in ([None] if spec.rewrite else rewrites)]
