"""Retrieval quality of `index --precision bf16` against fp32, through the CLI, on the bundled fixture.

    python bench/precision_quality.py [--locomo PATH] [--model default] [--variants 10]

Ingests a LoCoMo file (default: the bundled fixture, every conversation in the test split), makes
`ielab` one-typo variants of the English questions, builds the same dense index twice (fp32 and
bf16, on the CPU), evaluates both (`eval --langs en`: clean questions and the typo variants, R@10 and
nDCG@10; each index's queries in its own precision) and compares the two indexes' passage vectors:
the largest component difference and the lowest cosine between a passage's two vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import load

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "locomo" / "locomo_fixture.json"


def xlcli(db: Path, *args: str) -> str:
    process = subprocess.run([sys.executable, "-m", "xlcli", "--db", str(db), *args], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    if process.returncode != 0:
        raise SystemExit(f"xlcli {' '.join(args)} failed:\n{process.stderr}")
    return process.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=FIXTURE)
    parser.add_argument("--model", default="default")
    parser.add_argument("--variants", type=int, default=10)
    args = parser.parse_args()

    import numpy as np

    from xlcli.store import open_store, vectors

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.db"
        xlcli(db, "ingest", "locomo", str(args.locomo), "--name", "q")
        xlcli(db, "perturb", "--protocol", "ielab", "--langs", "en", "--variants", str(args.variants), "--seed", "1")
        seconds = {}
        for precision in ("fp32", "bf16"):
            start = time.perf_counter()
            xlcli(db, "index", "--name", precision, "--model", args.model, "--precision", precision, "--device", "cpu")
            seconds[precision] = time.perf_counter() - start
        results = json.loads(xlcli(db, "eval", "--index", "fp32,bf16", "--langs", "en", "--measures", "R@10 nDCG@10",
                                   "--device", "cpu", "--json"))
        with open_store(db, write=False) as store, store.read() as conn:
            stored = {}
            for name in ("fp32", "bf16"):
                row = conn.exec_driver_sql("SELECT vec_table, dim FROM indexes WHERE name = ?", (name,)).one()
                data = vectors.read_all(conn, row.vec_table, row.dim)
                stored[name] = dict(zip(data.passage_ids.tolist(), data.matrix))
            questions = conn.exec_driver_sql("SELECT count(*) FROM queries").scalar()

    a, b = stored["fp32"], stored["bf16"]
    diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    cosines = [float(a[k] @ b[k] / (np.linalg.norm(a[k]) * np.linalg.norm(b[k]))) for k in a]
    print(f"{args.locomo.name}: {len(a):,} passages, {questions:,} questions, model {args.model}, CPU; {load()}")
    print(f"{'index':<8}{'condition':<24}{'queries':>8}{'R@10':>9}{'nDCG@10':>9}")
    for r in sorted(results, key=lambda r: (r["condition"] != "clean", r["condition"], r["system"] != "fp32")):
        print(f"{r['system']:<8}{r['condition']:<24}{r['queries']:>8}{r['R@10']:>9.4f}{r['nDCG@10']:>9.4f}")
    print(f"index step, one run each (model load included): fp32 {seconds['fp32']:.1f} s, bf16 {seconds['bf16']:.1f} s")
    print(f"passage vectors fp32 vs bf16: max |difference| {diff:.2e}, lowest cosine {min(cosines):.6f}, "
          f"median cosine {float(np.median(cosines)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
