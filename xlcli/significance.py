"""Paired significance testing across systems, with Holm's correction.

* Paired t-test over per-query values (Student, 1908; as ``scipy.stats.ttest_rel``), the test
  recommended for IR system comparisons by Smucker, Allan & Carterette (CIKM 2007).
* Holm (1979) step-down adjustment of the p-values of all comparisons in one table, which
  controls the family-wise error rate without assuming independence.
* Effect size: Cohen's d_z (mean difference / standard deviation of the differences) and the
  95% confidence interval of the mean difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedTest:
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    t: float
    p: float
    effect_size: float


def paired_t_test(system: np.ndarray, baseline: np.ndarray, confidence: float = 0.95) -> PairedTest:
    """Two-sided paired t-test of ``system - baseline`` over the same queries."""
    diff = np.asarray(system, dtype=float) - np.asarray(baseline, dtype=float)
    n = len(diff)
    mean = float(diff.mean()) if n else math.nan
    if n < 2:
        return PairedTest(n, mean, math.nan, math.nan, math.nan, math.nan, math.nan)
    sd = float(diff.std(ddof=1))
    if sd == 0.0:
        # Identical differences: no variance to test against (scipy would return nan too).
        p = 1.0 if mean == 0.0 else 0.0
        return PairedTest(n, mean, mean, mean, math.nan, p, math.nan if mean == 0 else math.copysign(math.inf, mean))
    from scipy import stats  # imported here: scipy.stats costs ~1 s at CLI start-up

    result = stats.ttest_rel(system, baseline)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return PairedTest(n, mean, mean - half, mean + half, float(result.statistic), float(result.pvalue), mean / sd)


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (NaN entries stay NaN and do not count as comparisons)."""
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def mark(p_adjusted: float) -> str:
    """``**`` for p < 0.01, ``*`` for p < 0.05 (after Holm), nothing otherwise."""
    if math.isnan(p_adjusted):
        return ""
    return "**" if p_adjusted < 0.01 else "*" if p_adjusted < 0.05 else ""
