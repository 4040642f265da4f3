"""Side-by-side timing for the bench scripts: alternate the sides, report median and spread, and the load.

The machine these figures come from is shared, so absolute times drift while a script runs; running
the sides in turn (A B A B ...) exposes both to the same drift, and the ratio of the medians is the
figure to read. The load average is printed with every table so a reader can judge the noise.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence


def alternate(repeats: int, fns: Sequence[Callable[[], object]]) -> tuple[list[list[float]], list[object]]:
    """Run ``fns`` in turn ``repeats`` rounds; every side's wall times and its last result."""
    times: list[list[float]] = [[] for _ in fns]
    results: list[object] = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - start)
    return times, results


def median(times: Sequence[float]) -> float:
    return statistics.median(times)


def spread(times: Sequence[float]) -> str:
    """``median (min–max)`` in seconds."""
    return f"{median(times):.3f} ({min(times):.3f}–{max(times):.3f})"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"
