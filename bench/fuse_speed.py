"""Fusion speed of xlcli.fuse against ranx.fuse on the same runs (1,000 queries x 100 ranks x 3 systems).

Prints the median of alternating rounds (ranx, xlcli, ranx, xlcli, ...) for rrf and minmax wsum,
the ratio, and the load average. ranx's numba functions are compiled (and cached) before timing.
Run: PYTHONPATH=$PWD python bench/fuse_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import ranx

from xlcli.fuse.combine import fuse_all, make_spec


def synthetic(n_queries: int, depth: int, n_systems: int, seed: int = 0) -> list[dict[tuple[int, int], list[tuple[str, float]]]]:
    rng = random.Random(seed)
    systems = []
    for _ in range(n_systems):
        run = {}
        for q in range(n_queries):
            docs = rng.sample(range(depth * 3), depth)  # the systems overlap on a pool of 3x depth passages
            scores = sorted((rng.random() for _ in docs), reverse=True)
            run[(q, 0)] = [(f"d{d}", s) for d, s in zip(docs, scores)]
        systems.append(run)
    return systems


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--systems", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    runs = synthetic(a.queries, a.depth, a.systems)
    keys = list(runs[0])
    ranx_runs = [ranx.Run({f"q{q}": dict(r[(q, v)]) for q, v in keys}) for r in runs]
    cases = [("rrf", None, None, {"k": 60}, None), ("wsum", "minmax", [0.5, 0.3, 0.2][: a.systems], None, "min-max")]
    print(f"{a.queries} queries x {a.depth} ranks x {a.systems} systems, {a.rounds} alternating rounds, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'method':<14}{'ranx s':>10}{'xlcli s':>10}{'xlcli/ranx':>12}")
    for method, norm, weights, ranx_params, ranx_norm in cases:
        spec = make_spec(method, norm, None, weights, a.depth, a.systems)
        params = ranx_params or {"weights": weights}
        ranx.fuse(ranx_runs, norm=ranx_norm, method=method, params=params)  # compile numba first
        times = {"ranx": [], "xlcli": []}
        for _ in range(a.rounds):
            t = time.perf_counter()
            ranx.fuse(ranx_runs, norm=ranx_norm, method=method, params=params)
            times["ranx"].append(time.perf_counter() - t)
            t = time.perf_counter()
            fuse_all(keys, runs, spec)
            times["xlcli"].append(time.perf_counter() - t)
        r, x = statistics.median(times["ranx"]), statistics.median(times["xlcli"])
        label = f"{method}" + (f"/{norm}" if norm else "")
        print(f"{label:<14}{r:>10.3f}{x:>10.3f}{x / r:>12.2f}")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
