"""Retrieval quality on the real LoCoMo: packaged MiniLM and BM25 next to the paper's DRAGON numbers.

    python bench/locomo_quality.py [--locomo PATH] [--db SCRATCH.db] [--batch-size 64]

Protocol (as the LoCoMo paper's RAG evaluation, Maharana et al., ACL 2024, Table 3 "dialog" units):
every dialogue turn is a passage (``{speaker} said, "{text}"`` plus `` and shared {caption}``),
English questions of all five categories, retrieval within the question's own conversation, R@k =
fraction of a question's evidence turns in the top k, averaged over questions. Questions without
any evidence (4 of 1,986) are excluded, as ir_measures does. Expected for MiniLM: about R@5 38,
R@10 47, R@25 60, R@50 69. The store is a scratch file (kept with --db, so a re-run reuses it).
Defaults to ../shared/data/locomo/locomo10.json (or $LOCOMO_FILE); skips cleanly when absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "locomo" / "locomo10.json"
KS = (5, 10, 25, 50)
DRAGON = {5: 56.7, 10: 66.2, 25: 76.7, 50: 82.7}  # LoCoMo paper, dialog turns as retrieval units
EXPECTED_MINILM = {5: 38, 10: 47, 25: 60, 50: 69}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", DEFAULT)))
    parser.add_argument("--db", type=Path, default=None, help="scratch store to (re)use; default a temporary file")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if not args.locomo.exists():
        print(f"skipped: {args.locomo} not found (pass --locomo PATH)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "locomo.db"
        return run(args, db)


def run(args, db: Path) -> int:
    from sqlalchemy import text

    from xlcli.datasets import locomo
    from xlcli.eval.runner import evaluate
    from xlcli.index import build
    from xlcli.ingest import ingest_collection
    from xlcli.store import open_store

    measures = " ".join(f"R@{k}" for k in KS)
    with open_store(db) as store:
        ingest_collection(store, "locomo", locomo.read(args.locomo), {"file": str(args.locomo.resolve())}, source=str(args.locomo))
        start = time.perf_counter()
        build(store, "minilm", model="default", batch_size=args.batch_size, device=args.device)
        build(store, "bm25", bm25=True)
        index_seconds = time.perf_counter() - start
        start = time.perf_counter()
        results = evaluate(store, ["minilm", "bm25"], langs="en", variants="none", measures=measures, device=args.device)
        eval_seconds = time.perf_counter() - start
        by_index = {r.index: r for r in results}
        with store.read() as conn:
            total = conn.execute(text("SELECT count(*) FROM queries WHERE lang = 'en' AND translator = ''")).scalar()
            per_category = defaultdict(dict)
            for name, category, n, value in conn.execute(text(
                "SELECT i.name, json_extract(q.metadata_json, '$.category_name'), count(*), avg(m.value)"
                " FROM eval_measures m JOIN eval_runs r ON r.id = m.eval_run_id JOIN indexes i ON i.id = r.index_id"
                " JOIN queries q ON q.id = m.query_id WHERE m.eval_run_id IN (:a, :b) AND m.measure = 'R@10' AND m.variant_id = 0"
                " GROUP BY 1, 2 ORDER BY min(json_extract(q.metadata_json, '$.category'))"),
                {"a": by_index["minilm"].eval_run_id, "b": by_index["bm25"].eval_run_id},
            ):
                per_category[category][name] = (n, value)

    minilm, bm25 = by_index["minilm"], by_index["bm25"]
    print(f"LoCoMo {args.locomo.name}: {minilm.queries} English questions with evidence (of {total}), "
          "turn passages, retrieval within each conversation")
    header = "".join(f"{f'R@{k}':>8}" for k in KS)
    print(f"{'system':<36}{header}")
    rows = [
        ("all-MiniLM-L6-v2 (xlcli)", {k: 100 * minilm.means[f"R@{k}"] for k in KS}),
        ("  expected for MiniLM", EXPECTED_MINILM),
        ("BM25, SQLite FTS5 (xlcli)", {k: 100 * bm25.means[f"R@{k}"] for k in KS}),
        ("DRAGON (LoCoMo paper)", DRAGON),
    ]
    for label, values in rows:
        print(f"{label:<36}" + "".join(f"{values[k]:>8.1f}" for k in KS))
    worst = max(abs(100 * minilm.means[f"R@{k}"] - EXPECTED_MINILM[k]) for k in KS)
    print(f"largest gap to the expected MiniLM numbers: {worst:.1f} points ({'ok' if worst <= 2 else 'PROTOCOL DIFFERS'})")
    print(f"\nR@10 by category{'':<20}{'questions':>10}{'MiniLM':>8}{'BM25':>8}")
    for category, values in per_category.items():
        n = values["minilm"][0]
        print(f"  {category:<34}{n:>10}{100 * values['minilm'][1]:>8.1f}{100 * values['bm25'][1]:>8.1f}")
    print(f"\nindexing {index_seconds:.0f} s, eval {eval_seconds:.0f} s (skipped when already stored in --db)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
