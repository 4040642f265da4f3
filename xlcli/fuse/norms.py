"""Score normalisations applied to each input ranking before fusion — ranx's definitions exactly.

Each takes one query's (doc → score) map of one system and returns a new map in the same order.
As in ranx (``ranx.normalization``), a zero denominator is replaced by 1e-9, which fixes the
degenerate cases: all scores equal (or a single document) give 0 under ``minmax``, ``zmuv`` and
``sum``; ``max`` divides by 1e-9 when the best score is ≤ 0. An empty ranking stays empty.

Written here rather than called from ranx because ranx (numba) is a heavy test-only dependency and
its normalisations take whole ``Run`` objects; these are a few lines each over plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Scores = dict[str, float]

_EPS = 1e-9  # ranx's floor on every denominator


def _minmax(scores: Scores) -> Scores:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    denominator = max(high - low, _EPS)
    return {d: (s - low) / denominator for d, s in scores.items()}


def _zmuv(scores: Scores) -> Scores:
    """Zero mean, unit variance (population standard deviation, as numpy's ``std``)."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    denominator = max(std, _EPS)
    return {d: (s - mean) / denominator for d, s in scores.items()}


def _sum(scores: Scores) -> Scores:
    """Shifted to a minimum of 0, then divided by the sum of the shifted scores."""
    if not scores:
        return {}
    low = min(scores.values())
    denominator = max(sum(scores.values()) - low * len(scores), _EPS)
    return {d: (s - low) / denominator for d, s in scores.items()}


def _max(scores: Scores) -> Scores:
    if not scores:
        return {}
    denominator = max(max(scores.values()), _EPS)
    return {d: s / denominator for d, s in scores.items()}


def _none(scores: Scores) -> Scores:
    return dict(scores)


@dataclass(frozen=True)
class Norm:
    name: str
    fn: Callable[[Scores], Scores]
    description: str
    ranx: str | None  # ranx's name of the same normalisation (None: no normalisation)


NORMS: dict[str, Norm] = {n.name: n for n in [
    Norm("minmax", _minmax, "(s - min) / (max - min)", "min-max"),
    Norm("zmuv", _zmuv, "(s - mean) / std", "zmuv"),
    Norm("sum", _sum, "(s - min) / sum(s - min)", "sum"),
    Norm("max", _max, "s / max", "max"),
    Norm("none", _none, "scores as stored", None),
]}


def help_text() -> str:
    return "; ".join(f"{n.name}: {n.description}" for n in NORMS.values())
