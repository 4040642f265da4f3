"""Peak memory of `xlcli index` on the real LoCoMo, next to sentence-transformers encoding the same turns.

    python bench/index_memory.py [--locomo PATH] [--batch-size 64] [--threads 2] [--repeats 3]

Each side runs in its own process and its peak resident set size is read from the kernel
(``wait4`` rusage ``ru_maxrss``) when it exits: `xlcli index --name minilm` (default model) on a
scratch store holding the ingested file, and a Python process that loads the same model with
sentence-transformers and encodes the same passage texts with the same batch size. Also prints a
bare `python -c "import torch, transformers"` for the floor every PyTorch process pays.
The sides alternate, --repeats rounds (each xlcli run on a fresh copy of the ingested store);
medians and spreads are printed with the load, and the passage counts are the ones each side read.
Defaults to ../shared/data/locomo/locomo10.json (or $LOCOMO_FILE); skips cleanly when absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import load

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "locomo" / "locomo10.json"

ST_SCRIPT = """
import sys, torch
from sentence_transformers import SentenceTransformer
from xlcli.datasets import locomo
from xlcli.encoders import default_model_path
torch.set_num_threads(int(sys.argv[3]))
texts = [p.text for p in locomo.read(__import__("pathlib").Path(sys.argv[1])).passages]
model = SentenceTransformer(str(default_model_path()), device="cpu")
model.encode(texts, batch_size=int(sys.argv[2]))
print(len(texts))
"""


def peak(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(peak RSS in MiB, seconds, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed with exit code {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, out  # ru_maxrss is KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", DEFAULT)))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.locomo.exists():
        print(f"skipped: {args.locomo} not found (pass --locomo PATH)")
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    xlcli = [sys.executable, "-c", "from xlcli.cli import main; main()"]
    sides: dict[str, list[tuple[float, float]]] = {"python -c 'import torch, transformers'": [], "xlcli index --name minilm": [],
                                                    "sentence-transformers encode": []}
    with tempfile.TemporaryDirectory() as tmp:
        ingested = str(Path(tmp) / "ingested.db")
        subprocess.run([*xlcli, "--db", ingested, "ingest", "locomo", str(args.locomo)], check=True, capture_output=True, env=env)
        for repeat in range(args.repeats):
            db = str(Path(tmp) / f"run{repeat}.db")
            shutil.copy(ingested, db)
            mib, seconds, _ = peak([sys.executable, "-c", "import torch, transformers"], env)
            sides["python -c 'import torch, transformers'"].append((mib, seconds))
            mib, seconds, _ = peak([*xlcli, "--db", db, "index", "--name", "minilm", "--device", "cpu", "--batch-size", str(args.batch_size)], env)
            sides["xlcli index --name minilm"].append((mib, seconds))
            mib, seconds, out = peak([sys.executable, "-c", ST_SCRIPT, str(args.locomo), str(args.batch_size), str(args.threads)], env)
            sides["sentence-transformers encode"].append((mib, seconds))
            st_count = int(out.strip().splitlines()[-1])
        with sqlite3.connect(db) as conn:
            indexed = conn.execute("SELECT count(*) FROM index_entries").fetchone()[0]
        store_mib = Path(db).stat().st_size / 2**20
    print(f"real LoCoMo ({args.locomo.name}): xlcli indexed {indexed:,} passages, sentence-transformers encoded {st_count:,}; "
          f"batch size {args.batch_size}, {args.threads} threads, {args.repeats} alternating rounds; {load()}")
    print(f"{'process':<40}{'peak RSS MiB (min-max)':>26}{'seconds (min-max)':>24}")
    medians = {}
    for label, runs in sides.items():
        rss, secs = [r for r, _ in runs], [t for _, t in runs]
        medians[label] = statistics.median(rss)
        print(f"{label:<40}{f'{medians[label]:.0f} ({min(rss):.0f}-{max(rss):.0f})':>26}"
              f"{f'{statistics.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f})':>24}")
    ratio = medians["xlcli index --name minilm"] / medians["sentence-transformers encode"]
    print(f"ratio xlcli index / ST encode peak RSS (medians): {ratio:.2f}; store after indexing: {store_mib:.0f} MiB; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
