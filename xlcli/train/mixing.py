"""Batches drawn by explicit source proportions, not by the sources' sizes.

Sampling pairs in proportion to the sources' sizes lets tens of thousands of pseudo-queries swamp
a few thousand question pairs (DESIGN, "What moves the numbers"). With mixing weights
(``--pairs queries:en@1,queries:es,de@1,generated:es,de@0.2``) every stratum (source kind ×
language) gets a share of the stream: a source's weight over the sum of weights, split evenly
among its languages (``--balance-langs``, the default) or by their sizes. Sources given without a
weight get :data:`xlcli.train.config.DEFAULT_WEIGHT`.

The stream is a function of (seed, position) alone, like :class:`xlcli.train.sampler.Stream`, so a
resumed run draws exactly the batches of an uninterrupted one. Position → stratum: stratum *k* with
share *w_k* has events at times (i + u_k)/w_k (u_k ~ U(0, 1), seeded), and the positions are the
events in time order — a low-discrepancy interleaving (each stratum's count after *n* positions is
within a couple of n·w_k), so every batch carries each stratum in proportion. Within a stratum,
items are drawn epoch by epoch, each epoch a seeded permutation.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from functools import lru_cache

import numpy as np

from xlcli.train.sampler import group_by_stratum


class MixedStream:
    """Item indices in batches, strata mixed by ``shares`` (stratum → weight, any positive scale)."""

    def __init__(self, strata: Sequence[Hashable], shares: dict[Hashable, float], seed: int, salt: int = 0):
        groups = group_by_stratum(strata)
        self.size = len(strata)
        self.seed, self.salt = int(seed), int(salt)
        self.strata = list(groups)
        self._groups = [np.asarray(groups[s]) for s in self.strata]
        weights = np.asarray([float(shares[s]) for s in self.strata])
        self.shares = weights / weights.sum()
        self._offsets = np.random.default_rng([self.seed, self.salt, 0]).random(len(self.strata))
        self._labels = np.empty(0, dtype=np.int64)
        self._ranks = np.empty(0, dtype=np.int64)
        self._epoch = lru_cache(maxsize=64)(self._make_epoch)

    def _grow(self, end: int) -> None:
        n = max(end, 2 * len(self._labels), 1024)
        k = len(self.strata)
        labels, times = [], []
        for s, (share, u) in enumerate(zip(self.shares, self._offsets)):
            # Enough events to pass the n-th position's time (≤ n + k, see the module docstring).
            count = math.ceil((n + k + 1) * share) + 1
            times.append((np.arange(count) + u) / share)
            labels.append(np.full(count, s, dtype=np.int64))
        order = np.argsort(np.concatenate(times), kind="stable")[:n]
        self._labels = np.concatenate(labels)[order]
        ranks = np.empty(n, dtype=np.int64)
        for s in range(k):
            where = np.flatnonzero(self._labels == s)
            ranks[where] = np.arange(len(where))
        self._ranks = ranks

    def _make_epoch(self, stratum: int, epoch: int) -> np.ndarray:
        n = len(self._groups[stratum])
        return self._groups[stratum][np.random.default_rng([self.seed, self.salt, stratum + 1, epoch]).permutation(n)]

    def batch(self, index: int, size: int) -> list[int]:
        """Item indices of micro-batch ``index`` (each ``size`` long)."""
        start, end = index * size, (index + 1) * size
        if end > len(self._labels):
            self._grow(end)
        out = []
        for label, rank in zip(self._labels[start:end].tolist(), self._ranks[start:end].tolist()):
            epoch, offset = divmod(rank, len(self._groups[label]))
            out.append(int(self._epoch(label, epoch)[offset]))
        return out

    def realised(self, positions: int) -> dict[Hashable, float]:
        """The fraction of the first ``positions`` draws that each stratum gets."""
        if positions > len(self._labels):
            self._grow(positions)
        counts = np.bincount(self._labels[:positions], minlength=len(self.strata))
        return {s: float(c) / max(1, positions) for s, c in zip(self.strata, counts)}


def shares(pairs, sources, default_weight: float, balance_langs: bool) -> dict[tuple[str, str], float] | None:
    """Stratum (``Pair.source``, lang) → share, or None when no source has a weight (mix by size)."""
    if all(source.weight is None for source in sources):
        return None
    sizes: dict[tuple[str, str], int] = {}
    for pair in pairs:
        sizes[(pair.source, pair.lang)] = sizes.get((pair.source, pair.lang), 0) + 1
    found: dict[tuple[str, str], float] = {}
    for source in sources:
        weight = source.weight if source.weight is not None else default_weight
        strata = [(f"{source.kind}:{lang}", lang) for lang in source.langs if (f"{source.kind}:{lang}", lang) in sizes]
        total = sum(sizes[s] for s in strata)
        for stratum in strata:
            found[stratum] = weight * (1.0 / len(strata) if balance_langs else sizes[stratum] / total)
    return found


def stream(pairs, mix: dict | None, seed: int, salt: int):
    """The pair stream of a run: mixed by ``mix`` when given, else by size (:class:`Stream`)."""
    from xlcli.train.sampler import Stream

    strata = [(p.source, p.lang) for p in pairs]
    return Stream(strata, seed, salt=salt) if mix is None else MixedStream(strata, mix, seed, salt=salt)
