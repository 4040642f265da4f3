"""A seeded, language-mixed data order that can be entered at any step.

The order of epoch *e* is a function of (seed, e) alone, and micro-batch *m* is the slice
``[m·B, (m+1)·B)`` of the endless concatenation of epochs. So the batch a step needs is computed
from the step number — a resumed run reads exactly the batches an uninterrupted run would, with
no sampler state to save — and nothing is dropped at epoch ends.

Within an epoch, each stratum (source × language) is shuffled and spread evenly over the epoch:
item *i* of a stratum of size *n* is placed at (i + u)/n, u ~ U(0, 1), and all items are sorted by
place. Every batch therefore carries each language in proportion to its share of the pairs. That
matters: fine-tuning on English pairs alone makes a multilingual-ish encoder forget what little
cross-lingual ability it had (DESIGN "What moves the numbers"), so cross-lingual pairs must be in
every batch, not clumped into a few.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache

import numpy as np


def group_by_stratum(strata: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Item indices per stratum, strata in order of first appearance (so the order does not depend
    on how strata hash); refuses an empty sequence."""
    if not strata:
        raise ValueError("a stream needs at least one item")
    groups: dict[Hashable, list[int]] = {}
    for index, stratum in enumerate(strata):
        groups.setdefault(stratum, []).append(index)
    return groups


class Stream:
    def __init__(self, strata: Sequence[Hashable], seed: int, salt: int = 0):
        self.size = len(strata)
        self.seed, self.salt = int(seed), int(salt)
        self._groups = [np.asarray(indices) for indices in group_by_stratum(strata).values()]
        self._epoch = lru_cache(maxsize=4)(self._make_epoch)

    def _make_epoch(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.salt, epoch])
        places = np.empty(self.size)
        for indices in self._groups:
            n = len(indices)
            places[indices[rng.permutation(n)]] = (np.arange(n) + rng.random(n)) / n
        return np.argsort(places, kind="stable")

    def batch(self, index: int, size: int) -> list[int]:
        """Item indices of micro-batch ``index`` (each ``size`` long)."""
        start = index * size
        out: list[int] = []
        while len(out) < size:
            epoch, offset = divmod(start + len(out), self.size)
            order = self._epoch(epoch)
            out.extend(order[offset : offset + size - len(out)].tolist())
        return out
