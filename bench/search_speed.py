"""Eval search speed: xlcli's exact batch search vs a plain numpy brute force on the same vectors.

    python bench/search_speed.py [--passages 100000] [--queries 2000] [--dim 384] [-k 100] [--scopes 0]

Synthetic unit vectors (seeded). The numpy reference is what one would write by hand: one matrix
product per chunk of queries, ``argpartition`` for the top k, a sort of those k. xlcli's
:class:`~xlcli.search.DenseIndex` does the same plus what eval needs: retrieval within each query's
scope (``--scopes N`` splits the passages into N scopes; the numpy reference then loops over
scopes too) and deterministic tie-breaking by passage id, including ties at the cut.
Also reports reading the vectors back from a vec0 table. Target: xlcli within 1.5x of numpy.
Both sides use the same BLAS threads (set OMP_NUM_THREADS to change them). The sides alternate,
--repeats rounds; medians and spreads are printed with the load (bench/timing.py). Scaling to
millions of passages, with faiss beside them: bench/search_scaling.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from timing import alternate, load, median, spread

_CHUNK_CELLS = 1 << 24  # the former xlcli path's score-matrix budget (64 MiB of float32)


def numpy_brute_force(queries, passages, k, chunk):
    import numpy as np

    out = []
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ passages.T
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(scores, idx, axis=1)
        order = np.argsort(-top, axis=1)
        out.append(np.take_along_axis(idx, order, axis=1))
    return np.concatenate(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--scopes", type=int, default=0, help="0 = no scopes (every query searches every passage)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from xlcli.search import DenseIndex
    from xlcli.store import open_store, vectors

    rng = np.random.default_rng(0)
    P = rng.standard_normal((args.passages, args.dim), dtype=np.float32)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    Q = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    ids = np.arange(1, args.passages + 1)
    p_scopes = [f"s{i % args.scopes}" if args.scopes else None for i in range(args.passages)]
    q_scopes = [f"s{i % args.scopes}" if args.scopes else None for i in range(args.queries)]
    ext = [f"doc{i:08d}" for i in ids]

    start = time.perf_counter()
    index = DenseIndex(ids, p_scopes, ext, P)
    prepare = time.perf_counter() - start

    chunk = max(1, _CHUNK_CELLS // (args.passages // max(args.scopes, 1)))
    if args.scopes:
        groups = {s: np.flatnonzero(np.array(p_scopes) == s) for s in set(p_scopes)}
        q_groups = {s: np.flatnonzero(np.array(q_scopes) == s) for s in set(q_scopes)}

        def reference():
            return [numpy_brute_force(Q[q_groups[s]], P[groups[s]], args.k, chunk) for s in q_groups]
    else:
        def reference():
            return numpy_brute_force(Q, P, args.k, chunk)

    times, (ref, ours) = alternate(args.repeats, [reference, lambda: index.search_arrays(Q, q_scopes, args.k)])
    t_numpy, t_xlcli = (median(t) for t in times)
    if not args.scopes:
        same = sum(int((ids - 1).tolist() == ref[i].tolist()) for i, (ids, _) in enumerate(ours))
        agreement = f"{same}/{args.queries} rankings identical to numpy's"
    else:
        agreement = "(per-scope rankings)"

    # Reading an index's vectors back from vec0 (what eval does once per index).
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(Path(tmp) / "v.db") as store:
            with store.write() as conn:
                vectors.create(conn, "vec_1", args.dim)
                for s in range(0, args.passages, 10_000):
                    vectors.write(conn, "vec_1", ids[s : s + 10_000].tolist(), p_scopes[s : s + 10_000], P[s : s + 10_000])
            start = time.perf_counter()
            with store.read() as conn:
                data = vectors.read_all(conn, "vec_1", args.dim)
            t_read = time.perf_counter() - start
            assert np.array_equal(data.matrix, P)

    scope_note = f"{args.scopes} scopes" if args.scopes else "no scopes"
    print(f"{args.queries} queries x {args.passages} passages, dim {args.dim}, k {args.k}, {scope_note}, "
          f"median of {args.repeats} alternating rounds; {load()}")
    print(f"{'':<32}{'queries/s':>12}{'seconds (min-max)':>26}")
    print(f"{'numpy brute force':<32}{args.queries / t_numpy:>12.0f}{spread(times[0]):>26}")
    print(f"{'xlcli exact batch search':<32}{args.queries / t_xlcli:>12.0f}{spread(times[1]):>26}")
    print(f"{'ratio xlcli time / numpy time':<32}{t_xlcli / t_numpy:>12.2f}   (target <= 1.5)")
    print(f"{agreement}; grouping/normalising {prepare:.2f} s once; reading {args.passages} vectors from vec0: {t_read:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
