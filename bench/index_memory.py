"""Peak memory of `xlcli index` on the real LoCoMo, next to sentence-transformers encoding the same turns.

    python bench/index_memory.py [--locomo PATH] [--batch-size 64] [--threads 2]

Each side runs in its own process and its peak resident set size is read from the kernel
(``wait4`` rusage ``ru_maxrss``) when it exits: `xlcli index --name minilm` (default model) on a
scratch store holding the ingested file, and a Python process that loads the same model with
sentence-transformers and encodes the same passage texts with the same batch size. Also prints a
bare `python -c "import torch, transformers"` for the floor every PyTorch process pays.
Defaults to ../shared/data/locomo/locomo10.json (or $LOCOMO_FILE); skips cleanly when absent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    args = parser.parse_args()
    if not args.locomo.exists():
        print(f"skipped: {args.locomo} not found (pass --locomo PATH)")
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    xlcli = [sys.executable, "-c", "from xlcli.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "locomo.db")
        subprocess.run([*xlcli, "--db", db, "ingest", "locomo", str(args.locomo)], check=True, capture_output=True, env=env)
        rows = [
            ("python -c 'import torch, transformers'", peak([sys.executable, "-c", "import torch, transformers"], env)),
            ("xlcli index --name minilm", peak([*xlcli, "--db", db, "index", "--name", "minilm", "--device", "cpu",
                                                "--batch-size", str(args.batch_size)], env)),
            ("sentence-transformers encode", peak([sys.executable, "-c", ST_SCRIPT, str(args.locomo), str(args.batch_size),
                                                   str(args.threads)], env)),
        ]
        store_mib = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
    print(f"real LoCoMo ({args.locomo.name}), 5,882 turns, batch size {args.batch_size}, {args.threads} threads")
    print(f"{'process':<40}{'peak RSS MiB':>14}{'seconds':>10}")
    for label, (mib, seconds, _) in rows:
        print(f"{label:<40}{mib:>14.0f}{seconds:>10.1f}")
    print(f"ratio xlcli index / ST encode peak RSS: {rows[1][1][0] / rows[2][1][0]:.2f}; store after indexing: {store_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
