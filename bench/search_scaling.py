"""Exact search at scale: xlcli's batch search vs numpy brute force vs faiss ``IndexFlatIP``, same vectors.

    python bench/search_scaling.py [--sizes 10000,100000,300000] [--queries 1000] [--dim 384] [-k 100] [--repeats 3]

Synthetic unit vectors (seeded). For each corpus size the three sides run in turn, --repeats
rounds (see bench/timing.py), and the table gives each side's median and spread (seconds) and the
ratios of the medians (> 1: xlcli faster). numpy is what one writes by hand (one matrix product per
chunk of queries, ``argpartition``, a sort of the k; today's former xlcli path); faiss is its exact
flat index. xlcli must return the same top-k sets as faiss; "same" counts queries whose rankings
agree as id sets (faiss breaks ties among equal scores arbitrarily, xlcli by ext id; and where two
passages at the cut differ by one float32 rounding, faiss's BLAS product can order them otherwise
than the per-pair scores xlcli reports — seen once in 1,000 queries at 10k). Threads: faiss's and
numpy's defaults (set OMP_NUM_THREADS=1 for one core; on a crowded machine OpenMP's spinning
threads inflate every side's times). Run 1M alone
(``--sizes 1000000``): it holds about 3 GB of vectors. Targets: xlcli ≥ 1.0× faiss at every size.
"""

from __future__ import annotations

import argparse
import gc
import sys

from timing import alternate, load, median, spread

_CHUNK_CELLS = 1 << 24  # the former xlcli path's score-matrix budget (64 MiB of float32)


def numpy_brute_force(queries, passages, k):
    import numpy as np

    chunk = max(1, _CHUNK_CELLS // len(passages))
    out = []
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ passages.T
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(scores, idx, axis=1)
        out.append(np.take_along_axis(idx, np.argsort(-top, axis=1), axis=1))
    return np.concatenate(out)


def one_size(n: int, queries, args, rng) -> str:
    """One table row: the three sides over ``n`` passages (freed on return)."""
    import faiss
    import numpy as np

    from xlcli.search import DenseIndex

    passages = rng.standard_normal((n, args.dim), dtype=np.float32)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    index = DenseIndex(np.arange(n), [None] * n, [f"p{i:08d}" for i in range(n)], passages)
    del passages
    unit = index._all.matrix  # the same normalised vectors for every side, held once
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(unit)
    scopes = [None] * len(queries)
    times, (ours, _, (_, theirs)) = alternate(args.repeats, [
        lambda: index.search_arrays(queries, scopes, args.k),
        lambda: numpy_brute_force(queries, unit, args.k),
        lambda: flat.search(queries, args.k),
    ])
    same = sum(int(set(ids.tolist()) == set(theirs[i].tolist())) for i, (ids, _) in enumerate(ours))
    t_x, t_n, t_f = (median(t) for t in times)
    return (f"{n:>10,} {spread(times[0]):>22} {spread(times[1]):>22} {spread(times[2]):>22} "
            f"{t_n / t_x:>8.2f}x {t_f / t_x:>8.2f}x {same:>5}/{len(queries)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,300000", help="comma-separated passage counts")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    print(f"{args.queries} queries, dim {args.dim}, k {args.k}, {args.repeats} alternating rounds, "
          f"faiss {faiss.__version__} with {faiss.omp_get_max_threads()} threads; {load()}")
    print(f"{'passages':>10} {'xlcli s':>22} {'numpy s':>22} {'faiss flat s':>22} {'vs numpy':>9} {'vs faiss':>9} {'same':>11}")
    for n in (int(s) for s in args.sizes.split(",")):
        print(one_size(n, queries, args, rng), flush=True)
        gc.collect()
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
