"""sqlite-vec (vec0) KNN latency at 10k and 100k vectors, with and without a partition-key filter.

    python bench/vec0_latency.py [--sizes 10000 100000] [--dim 384] [-k 10] [--scopes 10] [--queries 50]

Synthetic unit vectors (seeded) in an xlcli vector table (``scope TEXT PARTITION KEY``, cosine).
"partition" filters on the scope inside the KNN (``AND scope = ?``), as ``xlcli search --scope``
does; "no filter" searches every vector; "join filter (post)" is the alternative DESIGN §2 warns
about — KNN over everything, then a filter on a joined table, which returns fewer than k rows. The
numpy column is a brute force over the same vectors for reference. Median and p95 over --queries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--scopes", type=int, default=10, help="number of partitions (10 = 10%% selectivity)")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    import numpy as np
    from sqlalchemy import text

    from xlcli.store import open_store, vectors

    rng = np.random.default_rng(0)
    print(f"dim {args.dim}, k {args.k}, {args.scopes} partitions ({100 / args.scopes:.0f}% selectivity), "
          f"{args.queries} queries; milliseconds per query")
    print(f"{'vectors':>9}  {'mode':<20}{'median':>9}{'p95':>9}{'rows':>7}")
    for n in args.sizes:
        P = rng.standard_normal((n, args.dim), dtype=np.float32)
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        scopes = [f"s{i % args.scopes}" for i in range(n)]
        queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
        with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "v.db") as store:
            with store.write() as conn:
                vectors.create(conn, "vec_1", args.dim)
                conn.exec_driver_sql("CREATE TABLE side (passage_id INTEGER PRIMARY KEY, scope TEXT)")
                for s in range(0, n, 10_000):
                    ids = list(range(s + 1, min(s + 10_000, n) + 1))
                    vectors.write(conn, "vec_1", ids, scopes[s : s + 10_000], P[s : s + 10_000])
                    conn.exec_driver_sql("INSERT INTO side VALUES (?, ?)", list(zip(ids, scopes[s : s + 10_000])))
            with store.read() as conn:
                modes = {
                    "no filter": lambda q: vectors.knn(conn, "vec_1", q, args.k),
                    "partition key": lambda q: vectors.knn(conn, "vec_1", q, args.k, "s3"),
                    "join filter (post)": lambda q: conn.execute(text(
                        "SELECT v.passage_id FROM vec_1 v JOIN side s ON s.passage_id = v.passage_id"
                        " WHERE v.embedding MATCH :q AND k = :k AND s.scope = 's3'"), {"q": vectors.as_blob(q), "k": args.k}).all(),
                    "numpy brute force": lambda q: np.argpartition(-(P @ q), args.k)[: args.k],
                }
                for mode, fn in modes.items():
                    fn(queries[0])  # warm the page cache
                    times, rows = [], 0
                    for q in queries:
                        start = time.perf_counter()
                        rows = len(fn(q))
                        times.append((time.perf_counter() - start) * 1000)
                    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
                    print(f"{n:>9}  {mode:<20}{statistics.median(times):>9.2f}{p95:>9.2f}{rows:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
