"""Fusion methods: one query's normalised input rankings → fused scores (a registry).

Definitions are ranx's (``ranx.fusion``), written over plain dicts in input order:

- ``rrf``      Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009): Σᵢ wᵢ / (k + rankᵢ(d)),
  rank from 1 in each input's stored order; scores (and so normalisation) are not used. With all
  weights 1 (the default) it is ranx's ``rrf``.
- ``combsum``  CombSUM (Fox & Shaw, TREC-2 1994): Σᵢ sᵢ(d), a missing document counting 0.
- ``combmnz``  CombMNZ (Fox & Shaw 1994): Σᵢ sᵢ(d) × the number of inputs that retrieved d.
- ``wsum``     weighted CombSUM: Σᵢ wᵢ sᵢ(d) (ranx's ``wsum``).
- ``combmax``  CombMAX (Fox & Shaw 1994): maxᵢ sᵢ(d), a missing document counting −1e9 (as ranx).
- ``combanz``  CombANZ (Fox & Shaw 1994): Σᵢ sᵢ(d) / the number of inputs that retrieved d.

Documents are every document any input retrieved (within the fusion depth). A method that takes
weights says so (:attr:`Method.weighted`); only those accept ``--weights`` and are optimised over
weights; ``rrf`` is optimised over k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xlcli.fuse.norms import Scores

MISSING_MAX = -1e9  # ranx's score of a missing document in CombMAX


def _union(results: Sequence[Scores]) -> list[str]:
    return list(dict.fromkeys(d for res in results for d in res))


def _wsum(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    return {d: sum([w * res.get(d, 0.0) for w, res in zip(weights, results)]) for d in _union(results)}


def _rrf(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    reciprocal = [{d: 1 / (k + rank) for rank, d in enumerate(res, start=1)} for res in results]
    return _wsum(reciprocal, weights, k)


def _combsum(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    return {d: sum([res.get(d, 0.0) for res in results]) for d in _union(results)}


def _present(results: Sequence[Scores], d: str) -> list[float]:
    return [res[d] for res in results if d in res]


def _combmnz(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    return {d: sum(p) * len(p) for d in _union(results) for p in [_present(results, d)]}


def _combmax(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    return {d: max(res.get(d, MISSING_MAX) for res in results) for d in _union(results)}


def _combanz(results: Sequence[Scores], weights: Sequence[float], k: int) -> Scores:
    return {d: sum(p) / len(p) for d in _union(results) for p in [_present(results, d)]}


FuseFn = Callable[[Sequence[Scores], Sequence[float], int], Scores]


@dataclass(frozen=True)
class Method:
    name: str
    fn: FuseFn
    description: str
    ranx: str           # ranx's name of the method
    weighted: bool = False
    uses_ranks: bool = False  # rank-based: normalisation does not apply, k does


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("rrf", _rrf, "reciprocal rank fusion, sum of w/(k + rank)", "rrf", weighted=True, uses_ranks=True),
    Method("combsum", _combsum, "sum of scores", "sum"),
    Method("combmnz", _combmnz, "sum of scores x number of inputs retrieving the passage", "mnz"),
    Method("wsum", _wsum, "weighted sum of scores", "wsum", weighted=True),
    Method("combmax", _combmax, "largest score", "max"),
    Method("combanz", _combanz, "mean score over the inputs retrieving the passage", "anz"),
]}

DEFAULT_METHOD = "rrf"
DEFAULT_K = 60  # Cormack et al.'s k


def help_text() -> str:
    return "; ".join(f"{m.name}: {m.description}" for m in METHODS.values())
