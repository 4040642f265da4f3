"""inspect and report --compare on a small evaluated store: their JSON equals plain SQL over the
stored rankings and per-query values."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3

import pytest
from conftest import Cli, snapshot
from evaluated_store import build


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_bert) -> Cli:
    return build(tmp_path_factory.mktemp("evaluated"), dense_model=tiny_bert)


def sql(db, query, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def latest_runs(db, index: str) -> dict[tuple[str, str], int]:
    """{(lang, condition): eval run id}: the newest run of the index per language and condition."""
    return {(lang, cond): rid for lang, cond, rid in sql(
        db, "SELECT e.lang, e.condition, max(e.id) FROM eval_runs e JOIN indexes i ON i.id = e.index_id WHERE i.name = ?"
            " GROUP BY e.lang, e.condition", index)}


def expected_inspect(db, ext_id: str, lang: str, k: int) -> dict:
    (qid, text), = sql(db, "SELECT id, text FROM queries WHERE ext_id = ? AND lang = ?", ext_id, lang)
    relevant = sql(db, "SELECT p.id, p.ext_id, r.relevance FROM qrels r JOIN passages p ON p.id = r.passage_id WHERE r.query_id = ?"
                       " ORDER BY r.relevance DESC, p.ext_id", qid)
    variants = sql(db, "SELECT id, idx, text, operations_json, levenshtein, damerau FROM query_variants WHERE query_id = ? ORDER BY idx", qid)
    texts = {0: text, **{vid: vtext for vid, _, vtext, _, _, _ in variants}}
    systems = {}
    for (index,) in sql(db, "SELECT DISTINCT i.name FROM eval_measures m JOIN eval_runs e ON e.id = m.eval_run_id"
                            " JOIN indexes i ON i.id = e.index_id WHERE m.query_id = ?", qid):
        runs = {}
        for (run_lang, condition), rid in latest_runs(db, index).items():
            vids = [v for (v,) in sql(db, "SELECT DISTINCT variant_id FROM eval_measures WHERE eval_run_id = ? AND query_id = ?"
                                          " ORDER BY variant_id", rid, qid)]
            if not vids:
                continue
            if condition != "clean":
                vids = [v for v in vids if v != 0]
            entries = {}
            for vid in vids:
                ranking = sql(db, "SELECT r.rank, p.ext_id, r.score, r.passage_id FROM eval_rankings r JOIN passages p ON p.id = r.passage_id"
                                  " WHERE r.eval_run_id = ? AND r.query_id = ? AND r.variant_id = ? ORDER BY r.rank", rid, qid, vid)
                rank_of = {pid: rank for rank, _, _, pid in ranking}
                rel = {pid: r for pid, _, r in relevant}
                entries[vid] = {
                    "text": texts[vid],
                    "relevant_ranks": [(ext, rank_of.get(pid)) for pid, ext, _ in relevant],
                    "top": [(rank, ext, score, rel.get(pid)) for rank, ext, score, pid in ranking[:k]],
                    "measures": dict(sql(db, "SELECT measure, value FROM eval_measures WHERE eval_run_id = ? AND query_id = ? AND variant_id = ?",
                                         rid, qid, vid)),
                }
            runs[(run_lang, condition)] = entries
        systems[index] = runs
    return {"text": text, "relevant": [(ext, r) for _, ext, r in relevant],
            "variants": [(idx, vtext, json.loads(ops), lev, dam) for _, idx, vtext, ops, lev, dam in variants], "systems": systems}


def got_inspect(result: dict) -> dict:
    """The same shape, from the command's JSON."""
    systems = {}
    for system in result["systems"]:
        systems[system["system"]] = {
            (run["lang"], run["condition"]): {
                entry["variant_id"]: {
                    "text": entry["text"],
                    "relevant_ranks": [(r["ext_id"], r["rank"]) for r in entry["relevant_ranks"]],
                    "top": [(t["rank"], t["ext_id"], t["score"], t["relevance"]) for t in entry["top"]],
                    "measures": entry["measures"],
                } for entry in run["entries"]
            } for run in system["runs"]
        }
    return {"text": result["query"]["text"], "relevant": [(r["ext_id"], r["relevance"]) for r in result["relevant"]],
            "variants": [(v["idx"], v["text"], v["operations"], v["levenshtein"], v["damerau"]) for v in result["variants"]],
            "systems": systems}


@pytest.mark.parametrize("ext_id, lang", [("conv-b/q1", "en"), ("conv-b/q0", "es")])
def test_inspect_json_equals_sql_over_stored_rankings(store, ext_id, lang):
    result = json.loads(store("inspect", ext_id, "--lang", lang, "-k", "3", "--json").stdout)
    expected = expected_inspect(store.db, ext_id, lang, 3)
    assert got_inspect(result) == expected
    # Both systems, clean and misspelled; every variant of the query has its own ranking.
    assert set(expected["systems"]) == {"bm", "tiny"}
    assert {c for runs in expected["systems"].values() for _, c in runs} == {"clean", "ielab"}
    assert len(expected["variants"]) == 3
    assert all(len(e["top"]) <= 3 for runs in expected["systems"].values() for entries in runs.values() for e in entries.values())


def test_inspect_lists_translations_and_category(store):
    result = json.loads(store("inspect", "conv-b/q0", "--json").stdout)
    assert result["query"]["lang"] == "en" and result["query"]["category"]
    assert {(t["lang"], t["text"]) for t in result["translations"]} == {("es", "¿Cómo se llama la gata de Priya?")}
    assert result["rewrites"] == []


def test_inspect_systems_option_and_rich_view(store):
    only = json.loads(store("inspect", "conv-b/q1", "--systems", "tiny", "--json").stdout)
    assert [s["system"] for s in only["systems"]] == ["tiny"]
    view = store("inspect", "conv-b/q1", "-k", "2").stdout
    assert "What does Tomás sell from his food truck?" in view
    assert "system bm" in view and "system tiny" in view and "misspelled variants" in view


def test_inspect_shows_rewrites_and_rewrite_systems(store, tmp_path):
    """A query's rewrites (query_rewrites) beside its variants, and an INDEX@REWRITE system ranking the rewritten texts."""
    db = tmp_path / "copy.db"
    with sqlite3.connect(store.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    copy = Cli(db)
    copy("rewrite", "--name", "sp", "--backend", "spell", "--langs", "en", "--split", "test")
    copy("eval", "--index", "bm", "--rewrite", "sp", "--measures", "R@10 RR@10 nDCG@10")
    (qid,), = sql(db, "SELECT id FROM queries WHERE ext_id = 'conv-b/q1' AND lang = 'en'")
    stored = dict(sql(db, "SELECT variant_id, text FROM query_rewrites WHERE query_id = ?", qid))
    result = json.loads(copy("inspect", "conv-b/q1", "--json").stdout)
    assert [w["text"] for w in result["rewrites"]] == [stored[0]]
    assert {v["variant_id"]: v["rewrites"][0]["text"] for v in result["variants"]} == {v: t for v, t in stored.items() if v}
    (system,) = [s for s in result["systems"] if s["system"] == "bm@sp"]
    ranked = {e["variant_id"]: e["text"] for run in system["runs"] for e in run["entries"]}
    assert ranked == stored
    shutil.rmtree(tmp_path, ignore_errors=True)


def expected_compare(db, a: str, b: str, measure: str, condition: str, langs: list[str] | None) -> dict:
    runs_a, runs_b = latest_runs(db, a), latest_runs(db, b)
    pairs = []
    for key in sorted(set(runs_a) & set(runs_b)):
        if key[1] != condition or (langs and key[0] not in langs):
            continue
        pairs += sql(db, "SELECT q.ext_id, q.lang, json_extract(q.metadata_json, '$.category_name'), ma.value, mb.value"
                         " FROM eval_measures ma JOIN eval_measures mb ON mb.query_id = ma.query_id AND mb.variant_id = 0"
                         " AND mb.measure = ma.measure JOIN queries q ON q.id = ma.query_id"
                         " WHERE ma.eval_run_id = ? AND mb.eval_run_id = ? AND ma.variant_id = 0 AND ma.measure = ?",
                     runs_a[key], runs_b[key], measure)
    wins = sum(vb > va for *_, va, vb in pairs)
    ties = sum(vb == va for *_, va, vb in pairs)
    gains = sorted((p for p in pairs if p[4] > p[3]), key=lambda p: (p[3] - p[4], p[0], p[1]))
    losses = sorted((p for p in pairs if p[4] < p[3]), key=lambda p: (p[3] - p[4], p[0], p[1]), reverse=True)
    categories = {}
    for _, _, cat, va, vb in pairs:
        c = categories.setdefault(cat, [0, 0, 0])
        c[0 if vb > va else 1 if vb == va else 2] += 1
    return {"n": len(pairs), "wins": wins, "ties": ties, "losses": len(pairs) - wins - ties,
            "mean_a": sum(p[3] for p in pairs) / len(pairs), "mean_b": sum(p[4] for p in pairs) / len(pairs),
            "gain_list": [(p[0], p[1], p[3], p[4]) for p in gains], "loss_list": [(p[0], p[1], p[3], p[4]) for p in losses],
            "categories": categories}


@pytest.mark.parametrize("measure, condition, langs", [("R@10", "clean", None), ("RR@10", "typo:ielab", ["en"]),
                                                      ("nDCG@10", "ielab", ["en", "es"])])
def test_compare_json_equals_sql_over_eval_measures(store, measure, condition, langs):
    args = ["report", "--compare", "bm,tiny", "--measure", measure, "--condition", condition, "--format", "json", "--worst", "50"]
    if langs:
        args += ["--lang", ",".join(langs)]
    got = json.loads(store(*args).stdout)
    expected = expected_compare(store.db, "bm", "tiny", measure, condition.removeprefix("typo:"), langs)
    assert (got["n"], got["wins"], got["ties"], got["losses"]) == (expected["n"], expected["wins"], expected["ties"], expected["losses"])
    assert got["n"] > 0
    if measure != "R@10":  # R@10 is 1 for every query of this small corpus; the rank-based measures differ
        assert got["wins"] + got["losses"] > 0
    assert got["mean_a"] == pytest.approx(expected["mean_a"]) and got["mean_b"] == pytest.approx(expected["mean_b"])
    assert [(q["ext_id"], q["lang"], q["a"], q["b"]) for q in got["largest_gains"]] == expected["gain_list"]
    assert [(q["ext_id"], q["lang"], q["a"], q["b"]) for q in got["largest_losses"]] == expected["loss_list"]
    assert {c["category"]: [c["wins"], c["ties"], c["losses"]] for c in got["by_category"]} == \
        {k: v for k, v in expected["categories"].items() if k}


def test_compare_worst_limits_and_exports(store):
    got = json.loads(store("report", "--compare", "bm,tiny", "--worst", "1", "--format", "json").stdout)
    assert len(got["largest_gains"]) <= 1 and len(got["largest_losses"]) <= 1
    rows = list(csv.DictReader(io.StringIO(store("report", "--compare", "bm,tiny", "--format", "csv").stdout)))
    assert len(rows) == got["n"]
    assert sum(r["outcome"] == "win" for r in rows) == got["wins"]
    md = store("report", "--compare", "bm,tiny", "--format", "md").stdout
    assert "| all |" in md and "wins" in md
    latex = store("report", "--compare", "bm,tiny", "--format", "latex").stdout
    assert latex.count("\\begin{tabular}") == 3
    assert "largest gains of B" in store("report", "--compare", "bm,tiny").stdout


def test_read_only_commands_leave_the_store_unchanged(store):
    before = snapshot(store.db)
    store("inspect", "conv-b/q1", "--json")
    store("report", "--compare", "bm,tiny", "--format", "json")
    assert snapshot(store.db) == before
