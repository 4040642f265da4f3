"""What a system is: the thing a report row stands for and an eval run ranks with.

Today a system is an index. The spec already carries an optional query rewrite (a system is then
the index applied to rewritten queries); the ``rewrite`` step fills that in, and a fusion of
systems will be another kind of spec here. Everything that names systems (``eval --index``,
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
    def label(self) -> str:
        """How reports and tables name the system: ``INDEX`` or ``INDEX ⟲ REWRITE``."""
        return self.index if self.rewrite is None else f"{self.index}{REWRITE_LABEL}{self.rewrite}"


def parse_list(values: Iterable[str]) -> list[SystemSpec]:
    """Specs from repeated and/or comma-separated options (``--index a,b --index c``), in order."""
    return [SystemSpec.parse(part) for value in values for part in value.split(",") if part.strip()]
