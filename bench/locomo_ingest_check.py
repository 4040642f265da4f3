"""Check `xlcli ingest locomo` against the real LoCoMo file's known counts.

    python bench/locomo_ingest_check.py [--locomo PATH]

Defaults to ../shared/data/locomo/locomo10.json (or $LOCOMO_FILE); skips cleanly when absent.
Expected: 10 scopes, 5,882 turn passages, 1,986 queries (282/321/96/841/446 by category),
qrels for 1,982 queries; a second ingest adds nothing.
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

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "locomo" / "locomo10.json"
EXPECTED = {
    "scopes": 10,
    "passages": 5882,
    "queries": 1986,
    "queries_with_qrels": 1982,
    "queries_by_category": {"multi-hop": 282, "temporal": 321, "open-domain": 96, "single-hop": 841, "adversarial": 446},
}


def xlcli(db: Path, *args: str) -> str:
    return subprocess.run(["xlcli", "--db", str(db), *args], check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", DEFAULT)))
    args = parser.parse_args()
    if not args.locomo.exists():
        print(f"skipped: {args.locomo} not found (pass --locomo PATH)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "locomo.db"
        start = time.perf_counter()
        xlcli(db, "ingest", "locomo", str(args.locomo))
        seconds = time.perf_counter() - start
        dataset = json.loads(xlcli(db, "status", "--json"))["datasets"][0]
        second = xlcli(db, "ingest", "locomo", str(args.locomo))
        count = xlcli(db, "sql", "SELECT count(*) AS n FROM passages", "--csv").splitlines()[1]
    failures = 0
    print(f"{'check':<22}{'expected':>44}  {'got':>44}")
    for key, expected in EXPECTED.items():
        got = dataset[key]
        ok = got == expected
        failures += not ok
        print(f"{key:<22}{json.dumps(expected):>44}  {json.dumps(got):>44}  {'ok' if ok else 'MISMATCH'}")
    for label, ok in (("sql count(passages)", count == "5882"), ("re-ingest adds nothing", "nothing added" in second)):
        failures += not ok
        print(f"{label:<22}{'':>44}  {'':>44}  {'ok' if ok else 'MISMATCH'}")
    print(f"ingest took {seconds:.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
