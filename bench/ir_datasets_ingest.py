"""Throughput and peak memory of `ingest ir-datasets` on a locally built corpus of short documents.

    python bench/ir_datasets_ingest.py [--sizes 100000,1000000] [--workdir /tmp/irds-bench]

For each size N a TSV corpus of N short documents (8-14 words), 1,000 queries and their qrels is
written, registered with ir_datasets (its TsvDocs/TsvQueries/TrecQrels formats over local files,
nothing downloaded), and ingested into a fresh store by one child process per size, which reports:
the time ir_datasets alone takes to iterate the corpus (the floor: reading and parsing the TSV),
the time of the whole ingest (documents/s into the store), and the child's peak resident set size
read from the kernel (``wait4`` rusage ``ru_maxrss``). Memory must stay flat from 100k to 1M:
the corpus is streamed in batches of ``xlcli.ingest_stream.BATCH`` documents.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys, time, json
from pathlib import Path
import ir_datasets
from ir_datasets.formats import TsvDocs, TsvQueries, TrecQrels
from ir_datasets.util import LocalDownload
from xlcli.datasets import ir_datasets as reader
from xlcli.ingest_stream import ingest_source
from xlcli.store import open_store

folder, n = Path(sys.argv[1]), int(sys.argv[2])
dataset = ir_datasets.Dataset(
    TsvDocs(LocalDownload(folder / "docs.tsv"), lang="es", count_hint=n),
    TsvQueries(LocalDownload(folder / "queries.tsv"), lang="es"),
    TrecQrels(LocalDownload(folder / "qrels.txt"), {0: "no", 1: "yes"}))
start = time.perf_counter()
for _ in dataset.docs_iter():
    pass
iterate = time.perf_counter() - start
start = time.perf_counter()
source = reader.open_dataset(f"bench/{n}", dataset=dataset)
with open_store(folder / "store.db") as store:
    result = ingest_source(store, "bench", source, {"n": n}, show_progress=True)
ingest = time.perf_counter() - start
print(json.dumps({"iterate_s": iterate, "ingest_s": ingest, "added": result.added}))
"""

WORDS = ("perro gato casa calle ciudad libro agua fuego tierra viento noche día mañana tarde río mar montaña "
         "camino puerta ventana mesa silla coche tren barco avión música pintura cocina jardín").split()


def build(folder: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "docs.tsv").open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(f"d{i}\t{' '.join(rng.choices(WORDS, k=rng.randint(8, 14)))}\n")
    with (folder / "queries.tsv").open("w", encoding="utf-8") as q, (folder / "qrels.txt").open("w", encoding="utf-8") as r:
        for i in range(1000):
            q.write(f"q{i}\t{' '.join(rng.choices(WORDS, k=4))}\n")
            r.write(f"q{i} 0 d{rng.randrange(n)} 1\n")


def run_child(folder: Path, n: int) -> tuple[dict, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(n)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child for {n:,} documents failed (status {status})")
    return json.loads(stdout), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="irds-bench-"))
    print("| documents | ir_datasets iterate (docs/s) | ingest (s) | ingest (docs/s) | peak RSS (MiB) | store (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        folder = root / f"n{n}"
        build(folder, n)
        stats, peak_mib = run_child(folder, n)
        assert stats["added"]["passages"] == n, stats
        size = (folder / "store.db").stat().st_size / 2**20
        print(f"| {n:,} | {n / stats['iterate_s']:,.0f} | {stats['ingest_s']:.1f} | {n / stats['ingest_s']:,.0f} | {peak_mib:,.0f} | {size:,.0f} |",
              flush=True)
    print(f"\nworkdir: {root}")


if __name__ == "__main__":
    main()
