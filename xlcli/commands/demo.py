"""``xlcli demo``: the whole study on the bundled fixture with the default model — the README's main job."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from xlcli import pipeline
from xlcli.commands.common import out
from xlcli.store import open_store

DEMO_DB = Path("xlcli-demo.db")

# The reduced configuration the test suite runs (same steps, less work).
QUICK = {
    "perturb": {"variants": 2},
    "generate queries": {"per-lang": 1},
    "train": {"steps": 4, "batch-size": 8},
}

SQL_EXAMPLES = [
    ("Misspelled variants next to their source query",
     "SELECT q.lang, q.text, v.text AS variant, v.damerau FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.lang = 'de' LIMIT 5"),
    ("Mean R@10 per system (index, index on rewritten queries, or fusion), language and condition, from the per-query values",
     "SELECT coalesce(i.name || coalesce('@' || w.name, ''), f.name) AS system, r.lang, r.condition, round(avg(m.value), 3) AS r10"
     " FROM eval_measures m JOIN eval_runs r ON r.id = m.eval_run_id LEFT JOIN indexes i ON i.id = r.index_id"
     " LEFT JOIN fusion_runs f ON f.id = r.fusion_run_id LEFT JOIN rewrite_runs w ON w.id = r.rewrite_run_id WHERE m.measure = 'R@10' AND m.variant_id = 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
    ("Words of the Russian misspelled queries the lexicon rewrite could not resolve, and how often",
     "SELECT json_extract(j.value, '$.word') AS word, count(*) AS n FROM query_rewrites w JOIN queries q ON q.id = w.query_id,"
     " json_each(w.operations_json) j WHERE q.lang = 'ru' AND w.variant_id > 0 AND json_extract(j.value, '$.step') = 'unknown'"
     " GROUP BY 1 ORDER BY 2 DESC LIMIT 10"),
    ("The training loss curve",
     "SELECT step, objective, round(loss, 4) AS loss FROM training_log WHERE objective = 'total' ORDER BY step DESC LIMIT 5"),
]


def demo_config() -> Path:
    return Path(__file__).resolve().parent.parent / "demo.toml"


def demo(
    ctx: typer.Context,
    quick: bool = typer.Option(False, "--quick", help="A reduced run (fewer variants, generated queries and training steps)."),
    measure: str = typer.Option("R@10", "--measure", help="Measure of the final report."),
) -> None:
    """Ingest the fixture (+ translations) → perturb → generate → index (BM25, MiniLM, MiniLM+QG) → train →
    index the fine-tuned model (plain, +QG) → rewrite (translate-test, lexicon) → eval (direct and on the
    rewritten queries) → report, in ./xlcli-demo.db unless --db is given."""
    root = ctx.find_root()
    db: Path | None = root.obj.db or DEMO_DB
    study = pipeline.load(demo_config(), root.command, overrides=QUICK if quick else None)
    started = time.perf_counter()
    with open_store(db) as store:
        pipeline.run(store, study, echo=lambda m: out.print(m, markup=False, highlight=False))
    # The off-the-shelf dense retriever is the baseline every other system is compared with.
    code = pipeline.run_step(study.root, db, pipeline.Step(0, 0, "report", ["report", "--measure", measure, "--baseline", "minilm"]))
    if code:
        raise typer.Exit(code)
    out.print(f"\nDemo finished in {time.perf_counter() - started:.0f} s. The store is [bold]{db.resolve()}[/]; look inside:")
    for title, sql in SQL_EXAMPLES:
        out.print(f"  # {title}\n  xlcli --db {db} sql \"{sql}\"", highlight=False, markup=False)
