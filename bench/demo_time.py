"""Wall time of the README's main job: `xlcli demo` from an empty store, then again (all skipped).

    python bench/demo_time.py [--quick]

Targets: ≤ 180 s from an empty store on 2 cores; ≤ 10 s for the second run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time the reduced configuration instead")
    args = parser.parse_args()
    command = ["xlcli", "demo"] + (["--quick"] if args.quick else [])
    with tempfile.TemporaryDirectory() as tmp:
        first = timed(command, Path(tmp))
        second = timed(command, Path(tmp))
    print(f"{'run':<28}{'seconds':>10}{'target':>10}")
    print(f"{'demo, empty store':<28}{first:>10.1f}{'180':>10}  {'ok' if first <= 180 else 'OVER'}")
    print(f"{'demo, again (all skipped)':<28}{second:>10.1f}{'10':>10}  {'ok' if second <= 10 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
