"""Choosing fusion parameters on a non-evaluation split: an exhaustive grid, ranx's idea and grid.

As ranx's ``optimize_fusion`` (Bassani, ECIR 2022): ``rrf`` tries k = 10, 20, …, 100; weighted
score methods (``wsum``) try every weight vector of multiples of 0.1 that sums to 1. Each grid point
fuses every query set of the optimisation split and is scored by one measure: the mean over query
sets (each language × condition weighs the same) of the mean over queries. The best point wins;
ties go to the earliest point of the grid (ranx keeps the last), so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import product

from xlcli.errors import XlcliError
from xlcli.fuse.combine import FusionSpec

K_GRID = tuple(range(10, 101, 10))
WEIGHT_STEPS = 10  # weights are multiples of 1/10


def grid(spec: FusionSpec) -> list[FusionSpec]:
    """The candidate specs for ``spec``'s method (k for rank-based methods, else weights)."""
    if spec.method.uses_ranks:
        return [replace(spec, k=k) for k in K_GRID]
    if spec.method.weighted:
        n = len(spec.weights)
        points = [p for p in product(range(WEIGHT_STEPS + 1), repeat=n) if sum(p) == WEIGHT_STEPS]
        return [replace(spec, weights=tuple(round(x / WEIGHT_STEPS, 1) for x in p)) for p in points]
    raise XlcliError(f"--optimize-on: {spec.method.name} has no parameter to fit (use rrf for k, wsum for weights)")


@dataclass
class Choice:
    spec: FusionSpec
    score: float
    tried: int

    def params(self, split: str, measure: str) -> dict:
        fitted = {"k": self.spec.k} if self.spec.method.uses_ranks else {"weights": list(self.spec.weights)}
        return {"optimize_on": split, "measure": measure, "grid": "k 10..100 step 10" if self.spec.method.uses_ranks
                else f"weights in steps of 1/{WEIGHT_STEPS} summing to 1", "points": self.tried, "best": fitted,
                "score": self.score}


def best(spec: FusionSpec, score: Callable[[FusionSpec], float]) -> Choice:
    """The grid point with the highest ``score`` (the first of equals)."""
    candidates = grid(spec)
    chosen, top = candidates[0], score(candidates[0])
    for candidate in candidates[1:]:
        value = score(candidate)
        if value > top:
            chosen, top = candidate, value
    return Choice(chosen, top, len(candidates))
