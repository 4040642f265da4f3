"""Reading an index's vectors back: vector blocks vs vec0 vs ``numpy.load`` of the same array.

    python bench/vector_load.py [--passages 100000] [--dim 384] [--batch 64] [--vec0-max 100000] [--repeats 3]

Builds a store holding ``--passages`` synthetic vectors the way ``xlcli index`` writes them (per
batch of --batch: vec0 rows, one vector block and the index entries in one transaction; vec0 is
skipped above --vec0-max because filling it takes minutes), saves the same float32 array as a
``.npy`` beside it, then alternates --repeats rounds of: ``numpy.load``; ``vectors.read_blocks``
(the matrix); ``vectors.read_index`` (what eval calls: the matrix and every passage's scope); and
``vectors.read_all`` (vec0, row by row). Target: read_blocks ≤ 2× numpy.load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from timing import alternate, load, median, spread


def build(db: Path, n: int, dim: int, batch: int, with_vec0: bool, matrix) -> dict:
    from xlcli.store import open_store, vectors

    with open_store(db) as store, store.write() as conn:
        inv = conn.exec_driver_sql(
            "INSERT INTO invocations (step, key, params_json, state, started_at, xlcli_version)"
            " VALUES ('bench', 'vector_load', '{}', 'done', 'now', 'bench') RETURNING id"
        ).scalar()
        ds = conn.exec_driver_sql(
            "INSERT INTO datasets (name, kind, lang, invocation_id) VALUES ('synthetic', 'beir', 'en', ?) RETURNING id", (inv,)
        ).scalar()
        conn.exec_driver_sql(
            "INSERT INTO passages (id, dataset_id, ext_id, lang, scope, text, invocation_id) VALUES (?, ?, ?, 'en', ?, 'x', ?)",
            [(i + 1, ds, f"p{i:08d}", f"s{i % 10}", inv) for i in range(n)],
        )
        index_id = conn.exec_driver_sql(
            "INSERT INTO indexes (name, dataset_id, kind, dim, vec_table, params_json, status, invocation_id)"
            " VALUES ('synthetic', ?, 'dense', ?, 'vec_1', '{}', 'done', ?) RETURNING id", (ds, dim, inv)
        ).scalar()
        if with_vec0:
            vectors.create(conn, "vec_1", dim)
    for start in range(0, n, 1000 * batch):
        with open_store(db) as store, store.write() as conn:
            for s in range(start, min(n, start + 1000 * batch), batch):
                ids = list(range(s + 1, min(n, s + batch) + 1))
                if with_vec0:
                    vectors.write(conn, "vec_1", ids, [f"s{(i - 1) % 10}" for i in ids], matrix[s : s + batch])
                vectors.write_block(conn, index_id, ids, matrix[s : s + batch], inv)
                conn.exec_driver_sql("INSERT INTO index_entries (index_id, passage_id, invocation_id) VALUES (?, ?, ?)",
                                     [(index_id, i, inv) for i in ids])
    return {"id": index_id, "dim": dim, "vec_table": "vec_1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--vec0-max", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from xlcli.store import open_store, vectors

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((args.passages, args.dim), dtype=np.float32)
    with_vec0 = args.passages <= args.vec0_max
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        db, npy = Path(tmp) / "v.db", Path(tmp) / "v.npy"
        start = time.perf_counter()
        row = build(db, args.passages, args.dim, args.batch, with_vec0, matrix)
        built = time.perf_counter() - start
        np.save(npy, matrix)
        with open_store(db, write=False) as store, store.read() as conn:
            sides = {
                "numpy.load (.npy)": lambda: np.load(npy),
                "vector blocks (matrix)": lambda: vectors.read_blocks(conn, row["id"], row["dim"])[1],
                "read_index (matrix + scopes)": lambda: vectors.read_index(conn, row).matrix,
            }
            if with_vec0:
                sides["vec0, row by row"] = lambda: vectors.read_all(conn, row["vec_table"], row["dim"]).matrix
            for name, read in sides.items():
                # Blocks are written here in passage order, so every side reads the array back as it was.
                assert np.array_equal(read(), matrix), f"{name} did not read back the written vectors"
            # Timed: read and drop (holding every side's 1M x 384 result at once would need GBs).
            times, _ = alternate(args.repeats, [lambda read=read: read() is None for read in sides.values()])
    print(f"{args.passages:,} x {args.dim} float32 ({matrix.nbytes / 2**20:.0f} MiB), blocks of {args.batch}, "
          f"store built in {built:.1f} s{'' if with_vec0 else ' (no vec0: above --vec0-max)'}; "
          f"median of {args.repeats} alternating rounds; {load()}")
    base = median(times[0])
    print(f"{'':<32}{'seconds (min-max)':>26}{'x numpy.load':>14}")
    for name, t in zip(sides, times):
        print(f"{name:<32}{spread(t):>26}{median(t) / base:>14.2f}")
    print("target: vector blocks <= 2.00 x numpy.load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
