"""The demo end to end in its reduced configuration: every step, the report, and a skipping re-run."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import text

from xlcli import pipeline
from xlcli.cli import app
from xlcli.commands.demo import demo_config
from xlcli.store import open_store

pytestmark = pytest.mark.slow


def test_quick_demo_end_to_end_then_skips(cli, db):
    first = cli("demo", "--quick")
    assert "Demo finished" in first.output and "xlcli --db" in first.output
    rows = json.loads(cli("report", "--format", "json").output)["rows"]
    systems = {r["system"] for r in rows}
    assert systems == {"bm25", "minilm", "minilm+qg", "minilm-xl", "minilm-xl+qg", "bm25 ⟲ lex", "minilm ⟲ lex", "minilm-xl ⟲ lex",
                       "minilm+bm25", "minilm-xl+tt"}
    assert {r["lang"] for r in rows} == {"en", "es", "de", "fr", "ru"}
    assert {r["condition"] for r in rows} == {"clean", "ielab"}

    with open_store(db, write=False) as store, store.read() as conn:
        for r in rows:
            mean = conn.execute(text(
                "SELECT avg(m.value) FROM eval_measures m JOIN eval_runs e ON e.id = m.eval_run_id LEFT JOIN indexes i ON i.id = e.index_id"
                " LEFT JOIN fusion_runs f ON f.id = e.fusion_run_id LEFT JOIN rewrite_runs w ON w.id = e.rewrite_run_id"
                " WHERE coalesce(i.name, f.name) = :s AND coalesce(w.name, '') = :w AND e.lang = :l AND e.condition = :c AND m.measure = 'R@10'"
                " AND m.variant_id = 0"),
                {"s": r["index"] or r["system"], "w": r["rewrite"] or "", "l": r["lang"], "c": r["condition"]}).scalar()
            assert r["mean"] == pytest.approx(mean, abs=1e-12)
        # translate-test covers the translated languages; English stays with the direct systems
        assert {r["lang"] for r in rows if r["rewrite"]} == {"es", "de", "fr", "ru"}
        # the acceptance: translate-test beats direct retrieval with the same encoder on misspelled queries
        by = {(r["system"], r["lang"], r["condition"]): r["mean"] for r in rows}
        for lang in ("es", "de", "fr", "ru"):
            assert by[("minilm ⟲ lex", lang, "ielab")] > by[("minilm", lang, "ielab")], lang
        # held-out conversations only, and the fine-tuned model is registered from its training run
        assert conn.execute(text("SELECT DISTINCT split FROM eval_runs")).scalars().all() == ["test"]
        assert conn.execute(text("SELECT count(*) FROM models WHERE training_run_id IS NOT NULL")).scalar() >= 1
        steps_run = conn.execute(text("SELECT count(*) FROM invocations WHERE step = 'pipeline-step'")).scalar()

    again = cli("demo", "--quick")
    steps = len(pipeline.load(demo_config(), typer.main.get_command(app)).steps)
    assert "[run" not in again.output and again.output.count("[skip]") == steps
    with open_store(db, write=False) as store, store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM invocations WHERE step = 'pipeline-step'")).scalar() == steps_run
        assert conn.execute(text("SELECT count(*) FROM invocations WHERE state != 'done'")).scalar() == 0
