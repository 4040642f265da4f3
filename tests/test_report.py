"""report: numbers equal an independent computation from the stored per-query values."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import text

from xlcli.store import open_store


def _insert(conn, sql, **params):
    return conn.execute(text(sql), params)


def populate_eval(db, seed: int = 7) -> None:
    """Three systems' eval runs over the small store's queries, clean and one variant set, written
    as eval would write them (random per-variant values; the query value is their mean)."""
    rng = np.random.default_rng(seed)
    with open_store(db) as store, store.write() as conn:
        inv = _insert(conn, "INSERT INTO invocations (step, key, params_json, state, started_at, xlcli_version)"
                            " VALUES ('eval', 'k', '{}', 'done', 'now', 't') RETURNING id").scalar()
        ds = _insert(conn, "SELECT id FROM datasets").scalar()
        vs = _insert(conn, "INSERT INTO variant_sets (dataset_id, name, protocol, params_json, seed, key, invocation_id)"
                           " VALUES (:d, 'ielab', 'ielab', '{}', 1, 'k', :i) RETURNING id", d=ds, i=inv).scalar()
        queries = _insert(conn, "SELECT id, lang, text FROM queries ORDER BY id").all()
        variants = {}
        for qid, _, qtext in queries:
            for idx in range(3):
                variants[(qid, idx)] = _insert(
                    conn, "INSERT INTO query_variants (variant_set_id, query_id, idx, text, operations_json, levenshtein, damerau, seed, invocation_id)"
                          " VALUES (:v, :q, :x, :t, '[]', :d, :d, 1, :i) RETURNING id",
                    v=vs, q=qid, x=idx, t=qtext + str(idx), d=1 + idx, i=inv).scalar()
        for n, name in enumerate(["bm25", "minilm", "minilm-ft"]):
            index = _insert(conn, "INSERT INTO indexes (name, dataset_id, kind, params_json, status, invocation_id)"
                                  " VALUES (:n, :d, 'dense', '{}', 'done', :i) RETURNING id", n=name, d=ds, i=inv).scalar()
            for lang in ("en", "es"):
                for condition, variant_set in (("clean", None), ("ielab", vs)):
                    run = _insert(conn, "INSERT INTO eval_runs (index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth,"
                                        " params_json, key, created_at, invocation_id) VALUES (:x, :d, :l, 'all', :c, :v, 'R@10 RR@10', 100, '{}', :k, 'now', :i)"
                                        " RETURNING id", x=index, d=ds, l=lang, c=condition, v=variant_set, k=f"{name}{lang}{condition}", i=inv).scalar()
                    for qid, qlang, _ in queries:
                        if qlang != lang:
                            continue
                        for measure in ("R@10", "RR@10"):
                            if condition == "clean":
                                value = float(np.clip(rng.normal(0.3 + 0.15 * n, 0.2), 0, 1))
                            else:
                                per_variant = np.clip(rng.normal(0.2 + 0.15 * n, 0.2, size=3), 0, 1)
                                for idx, v in enumerate(per_variant):
                                    _insert(conn, "INSERT INTO eval_measures VALUES (:r, :q, :v, :m, :x)",
                                            r=run, q=qid, v=variants[(qid, idx)], m=measure, x=float(v))
                                value = float(per_variant.mean())
                            _insert(conn, "INSERT INTO eval_measures VALUES (:r, :q, 0, :m, :x)", r=run, q=qid, m=measure, x=value)


def holm_reference(p):
    """Holm (1979) written out directly: sort, multiply by (m - rank), enforce monotonicity."""
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    previous = 0.0
    for rank, i in enumerate(order):
        previous = max(previous, min(1.0, (m - rank) * p[i]))
        adjusted[i] = previous
    return adjusted


def test_report_json_matches_independent_computation(small_store, db):
    populate_eval(db)
    rows = json.loads(small_store("report", "--format", "json", "--baseline", "bm25").output)["rows"]
    assert {(r["system"], r["lang"], r["condition"]) for r in rows} == {
        (s, l, c) for s in ("bm25", "minilm", "minilm-ft") for l in ("en", "es") for c in ("clean", "ielab")}

    with open_store(db, write=False) as store, store.read() as conn:
        def values(system, lang, condition):
            return dict(conn.execute(text(
                "SELECT m.query_id, m.value FROM eval_measures m JOIN eval_runs r ON r.id = m.eval_run_id JOIN indexes i ON i.id = r.index_id"
                " WHERE i.name = :s AND r.lang = :l AND r.condition = :c AND m.measure = 'R@10' AND m.variant_id = 0"),
                {"s": system, "l": lang, "c": condition}).all())

        p_values, keys = [], []
        for r in rows:
            mine = values(r["system"], r["lang"], r["condition"])
            sql_mean = conn.execute(text(
                "SELECT avg(m.value) FROM eval_measures m JOIN eval_runs r ON r.id = m.eval_run_id JOIN indexes i ON i.id = r.index_id"
                " WHERE i.name = :s AND r.lang = :l AND r.condition = :c AND m.measure = 'R@10' AND m.variant_id = 0"),
                {"s": r["system"], "l": r["lang"], "c": r["condition"]}).scalar()
            assert r["mean"] == pytest.approx(sql_mean, abs=1e-12)
            if r["condition"] == "ielab":
                clean = np.mean(list(values(r["system"], r["lang"], "clean").values()))
                assert r["drop_abs"] == pytest.approx(r["mean"] - clean, abs=1e-12)
                assert r["drop_rel"] == pytest.approx((r["mean"] - clean) / clean, abs=1e-12)
            if r["system"] != "bm25":
                base = values("bm25", r["lang"], r["condition"])
                shared = sorted(mine)
                reference = stats.ttest_rel([mine[q] for q in shared], [base[q] for q in shared])
                assert r["p"] == pytest.approx(reference.pvalue, rel=1e-9)
                assert r["diff"] == pytest.approx(np.mean([mine[q] - base[q] for q in shared]), abs=1e-12)
                diffs = np.array([mine[q] - base[q] for q in shared])
                half = stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs))
                assert (r["ci95_low"], r["ci95_high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half), abs=1e-12)
                p_values.append(r["p"])
                keys.append(r["p_holm"])
    assert keys == pytest.approx(list(holm_reference(np.array(p_values))), rel=1e-12)


def test_every_format_renders(small_store, db, tmp_path):
    populate_eval(db)
    rich_out = small_store("report").output
    assert "bm25" in rich_out and "R@10 by system" in rich_out and "edit distance" in rich_out
    md = small_store("report", "--format", "md").output
    assert md.splitlines()[0].startswith("| system | en clean |") and "| bm25 |" in md
    latex = small_store("report", "--format", "latex").output
    assert "\\begin{tabular}" in latex and "\\bottomrule" in latex
    rows = list(csv.DictReader(io.StringIO(small_store("report", "--format", "csv").output)))
    assert len(rows) == 12 and {"system", "lang", "condition", "mean", "p_holm"} <= set(rows[0])
    by_category = small_store("report", "--by", "category", "--format", "md", "--measure", "RR@10").output
    assert "single-hop" in by_category and "multi-hop" in by_category
    plot = tmp_path / "drop.png"
    small_store("report", "--plot", plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--baseline", "nope"], "--baseline 'nope' is not a system"),
        (["--measure", "nDCG@10"], "measure 'nDCG@10' was not computed"),
        (["--plot", "/no/such/dir/p.png"], "does not exist"),
        (["--format", "xml"], "--format xml"),
    ],
)
def test_report_bad_input(small_store, db, args, message):
    populate_eval(db)
    before = db.read_bytes()
    result = small_store("report", *args, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert db.read_bytes() == before


def test_report_without_eval_runs(small_store):
    result = small_store("report", ok=False)
    assert result.exit_code == 2 and "no eval runs" in result.output


def test_colours_and_latex_marks_come_from_the_values(small_store, db):
    """Every significant gain is green and every significant loss red in rich, a superscript in LaTeX;
    nothing else is coloured or marked (the renderers read the cells' values, not their text)."""
    from xlcli.report import render, tables

    populate_eval(db)
    with open_store(db, write=False) as store, store.read() as conn:
        report = tables.build(conn, 1, baseline="minilm-ft")
    marks = [g.mark for g in report.gains.values() if not math.isnan(g.test.mean_diff)]
    losses = [g.mark for g in report.gains.values() if g.mark and g.test.mean_diff < 0]
    assert losses, "the fixture should have significant losses against the best system"
    _, cells = render.grid(report)
    styled = [render._rich_cell(c) for row in cells for c in row]
    assert sum(s.startswith("[red]") for s in styled) == len(losses)
    assert sum(s.startswith("[green]") for s in styled) == sum(1 for m in marks if m) - len(losses)
    latex = render.render(report, "latex")
    body = latex.split("\\caption")[0]
    assert body.count("$^{**}$") == marks.count("**") and body.count("$^{*}$") == marks.count("*")
    assert "*)" not in body and "**" not in body.replace("$^{**}$", "")

    score = render.Score(0.5, -0.1234, "**")
    assert render.plain(score) == "50.0 (-12.3**)" and score.direction == -1
    assert render.plain(score, mark=lambda m: f"<{m}>") == "50.0 (-12.3<**>)"
    assert render.Score(0.5, 0.2, "").direction == 0 and render.Score(0.5).direction == 0
    assert render.plain(render.Drop(-0.05, -0.25)) == "-5.0 (-25%)" and render.plain(render.Drop(-0.05, math.nan)) == "-5.0"
