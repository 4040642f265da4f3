"""The ranges of numeric options, checked by the parser so that an absurd number never reaches the store.

Integers get click's ``IntRange`` through typer's ``min=``/``max=`` (spread from the dicts below);
floats get a callback from :func:`real`, because click's ``FloatRange`` lets ``nan`` through (every
comparison with it is false) and typer does not expose its open bounds. A wrong value is a click
usage error, which the root turns into one ``Error:`` line with exit code 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import typer

# Seeds feed random.Random, numpy (non-negative only) and torch, and are stored as SQLite INTEGERs.
SEED = {"min": 0, "max": 2**63 - 1}
# Items per model call or per transaction; beyond this a batch no longer fits any device.
BATCH = {"min": 1, "max": 100_000}
# Token budgets: no tokenizer/model here takes more than this.
TOKENS = {"min": 1, "max": 100_000}
# Ranking depths and k: sqlite-vec's own KNN limit is lower (checked where it applies).
DEPTH = {"min": 1, "max": 100_000}
# Counts of things made per item (variants, queries per passage, beams, negatives).
PER_ITEM = {"min": 1, "max": 1000}
POSITIVE = {"min": 1}
# Training length: far beyond any study here, but an int and a float that fit every counter.
MAX_STEPS = 10_000_000
MAX_EPOCHS = 10_000.0


def real(*, above: float | None = None, at_least: float | None = None, below: float | None = None,
         at_most: float | None = None) -> Callable[[float | None], float | None]:
    """A callback that accepts a finite float within the bounds (None — an unset option — passes)."""
    lower = f"> {above:g}" if above is not None else (f">= {at_least:g}" if at_least is not None else "")
    upper = f"< {below:g}" if below is not None else (f"<= {at_most:g}" if at_most is not None else "")
    wanted = " and ".join(part for part in (lower, upper) if part) or "finite"

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        ok = math.isfinite(value)
        ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
        ok = ok and (below is None or value < below) and (at_most is None or value <= at_most)
        if not ok:
            raise typer.BadParameter(f"{value:g} is not a number {wanted}" if wanted != "finite" else f"{value:g} is not finite")
        return value

    return check


PROBABILITY = real(at_least=0.0, at_most=1.0)
