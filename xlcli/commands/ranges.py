"""The ranges of numeric options, checked while the command line is parsed — before any store is
opened — so that an absurd number never reaches the library or the store.

Each range is a typer callback that raises :class:`~xlcli.errors.XlcliError`, which the root turns
into one ``Error: --flag value: ...`` line with exit code 2, like every other user mistake (and like
the checks the library repeats for its own callers). Floats are also refused when ``nan`` or
infinite: ``nan`` passes every comparison, so click's ``FloatRange`` would let it through. Where the
library already checks a value (TrainConfig, ``--alpha``), :func:`library` runs that very check.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import typer

from xlcli.errors import XlcliError

Check = Callable[[typer.CallbackParam, object], object]


def _flag(param: typer.CallbackParam) -> str:
    return param.opts[0] if param.opts else f"--{param.name}"


def whole(minimum: int | None = None, maximum: int | None = None) -> Check:
    """An int option within [minimum, maximum] (None — an unset option — passes)."""

    def check(param: typer.CallbackParam, value: int | None) -> int | None:
        if value is None:
            return None
        if minimum is not None and value < minimum:
            raise XlcliError(f"{_flag(param)} {value}: must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise XlcliError(f"{_flag(param)} {value}: must be at most {maximum:,}")
        return value

    return check


def real(*, above: float | None = None, at_least: float | None = None, below: float | None = None,
         at_most: float | None = None) -> Check:
    """A finite float option within the bounds (None — an unset option — passes)."""
    lower = f"> {above:g}" if above is not None else (f">= {at_least:g}" if at_least is not None else "")
    upper = f"< {below:g}" if below is not None else (f"<= {at_most:g}" if at_most is not None else "")
    wanted = " and ".join(part for part in (lower, upper) if part)

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is None:
            return None
        ok = math.isfinite(value)
        ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
        ok = ok and (below is None or value < below) and (at_most is None or value <= at_most)
        if not ok:
            raise XlcliError(f"{_flag(param)} {value:g}: must be a finite number" + (f" {wanted}" if wanted else ""))
        return value

    return check


def library(check: Callable[..., object], *args) -> Check:
    """A callback running the library's own check, ``check(*args, value)``: one rule and one message
    for the parser and for callers of the library (e.g. TrainConfig's CHECKS, augment.check_alpha)."""

    def callback(param: typer.CallbackParam, value):
        if value is not None:
            check(*args, value)
        return value

    return callback


# Seeds feed random.Random, numpy (non-negative only) and torch, and are stored as SQLite INTEGERs.
SEED = whole(0, 2**63 - 1)
# Items per model call or per transaction; beyond this a batch no longer fits any device.
BATCH_MAX = 100_000
BATCH = whole(1, BATCH_MAX)
# Token budgets: no tokenizer or model here takes more.
TOKENS_MAX = 100_000
TOKENS = whole(1, TOKENS_MAX)
# Ranking depths and k (sqlite-vec's own, lower KNN limit is checked where it applies).
DEPTH = whole(1, 100_000)
# Counts of things made per item: variants, queries per passage, beams, negatives, edits.
PER_ITEM = whole(1, 1000)
POSITIVE = whole(1)
FRACTION = real(above=0.0, at_most=1.0)
