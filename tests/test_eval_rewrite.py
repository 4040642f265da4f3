"""eval --rewrite / INDEX@REWRITE on the bundled fixture: the rewritten texts are what gets ranked,
runs are keyed by the rewrite, TREC exports equal the stored values, reports show the systems as
their own rows, and bad requests are one line with the store unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import ir_measures
import pytest
from conftest import FIXTURES, Cli, assert_refused, copy_store, snapshot
from rewrite_helpers import LEXICONS
from sqlalchemy import text

from xlcli.search import bm25_search
from xlcli.store import open_store

MEASURES = "R@10 RR@10 nDCG@10"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The fixture (conv-103/104 held out), 2 ielab variants a query, BM25, a lexicon and a spell rewrite."""
    cli = Cli(tmp_path_factory.mktemp("eval-rewrite") / "base.db")
    cli("ingest", "locomo", FIXTURES / "locomo" / "locomo_fixture.json", "--name", "fixture", "--test-conversations", "conv-103,conv-104")
    cli("ingest", "translations", FIXTURES / "locomo" / "translations.jsonl")
    cli("perturb", "--protocol", "ielab", "--variants", "2", "--seed", "1")
    cli("index", "--name", "bm", "--bm25")
    cli("rewrite", "--name", "lex", "--backend", "lexicon", "--to", "en", *LEXICONS, "--langs", "es,de", "--split", "test")
    cli("rewrite", "--name", "sp", "--backend", "spell", "--langs", "en", "--split", "test")
    cli("rewrite", "--name", "lex-clean", "--backend", "lexicon", "--to", "en", *LEXICONS, "--langs", "es", "--split", "test",
        "--variants", "none")
    return cli.db


@pytest.fixture
def fx(base, tmp_path) -> Cli:
    return Cli(copy_store(base, tmp_path / "store.db"))


def _rows(db: Path, sql: str, **params) -> list[tuple]:
    with open_store(db, write=False) as store, store.read() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def test_rewrite_system_ranks_the_rewritten_texts_and_exports_trec(fx, tmp_path):
    trec = tmp_path / "trec"
    results = json.loads(fx("eval", "--index", "bm", "--rewrite", "lex", "--measures", MEASURES, "--trec-out", trec, "--json").stdout)
    # only the languages and conditions the rewrite covers
    assert {(r["system"], r["lang"], r["condition"]) for r in results} == {
        ("bm ⟲ lex", lang, cond) for lang in ("es", "de") for cond in ("clean", "ielab")}
    assert {r["rewrite"] for r in results} == {"lex"} and {r["index"] for r in results} == {"bm"}
    (rw_id,), = _rows(fx.db, "SELECT id FROM rewrite_runs WHERE name = 'lex'")
    assert _rows(fx.db, "SELECT DISTINCT rewrite_run_id FROM eval_runs") == [(rw_id,)]

    with open_store(fx.db, write=False) as store, store.read() as conn:
        index = conn.execute(text("SELECT * FROM indexes WHERE name = 'bm'")).mappings().one()
        stored = conn.execute(text(
            "SELECT r.query_id, r.variant_id, w.text, q.text, coalesce(v.text, q.text), q.scope, e.depth, e.id FROM eval_runs e"
            " JOIN eval_rankings r ON r.eval_run_id = e.id AND r.rank = 1 JOIN query_rewrites w ON w.rewrite_run_id = e.rewrite_run_id"
            " AND w.query_id = r.query_id AND w.variant_id = r.variant_id JOIN queries q ON q.id = r.query_id"
            " LEFT JOIN query_variants v ON v.id = r.variant_id ORDER BY e.id, r.query_id, r.variant_id")).all()
        assert len(stored) > 300
        differs = 0
        for qid, vid, rewritten, _, original, scope, depth, run_id in stored[::7]:
            ranking = conn.execute(text("SELECT passage_id, score FROM eval_rankings WHERE eval_run_id = :r AND query_id = :q"
                                        " AND variant_id = :v ORDER BY rank"), {"r": run_id, "q": qid, "v": vid}).all()
            assert [tuple(p) for p in ranking] == [tuple(p) for p in bm25_search(conn, index, rewritten, depth, scope)]
            differs += [tuple(p) for p in bm25_search(conn, index, original, depth, scope)] != [tuple(p) for p in ranking]
        assert differs > 10  # the original (untranslated) text would have ranked otherwise

    files = sorted(p.name for p in trec.iterdir())
    assert files == sorted(f"bm@lex.{lang}.{cond}.{ext}" for lang in ("es", "de") for cond in ("clean", "ielab") for ext in ("run", "qrels"))
    for r in results:
        stem = trec / f"bm@lex.{r['lang']}.{r['condition']}"
        run = list(ir_measures.read_trec_run(str(stem) + ".run"))
        assert {line.split()[5] for line in Path(str(stem) + ".run").read_text().splitlines()} == {"bm@lex"}  # the tag
        per_key = {}
        for m in ir_measures.iter_calc([ir_measures.parse_measure(n) for n in MEASURES.split()],
                                       list(ir_measures.read_trec_qrels(str(stem) + ".qrels")), run):
            per_key.setdefault(m.query_id.split("#")[0], {}).setdefault(str(m.measure), []).append(m.value)
        # the query's value is the mean over its variants, the run's the mean over queries
        for name in MEASURES.split():
            expected = sum(sum(v[name]) / len(v[name]) for v in per_key.values()) / len(per_key)
            assert r[name] == pytest.approx(expected, abs=1e-9), (r["lang"], r["condition"], name)


def test_rewrite_runs_are_keyed_by_the_rewrite_and_reused(fx):
    direct = json.loads(fx("eval", "--index", "bm", "--langs", "es", "--variants", "none", "--json").stdout)
    first = json.loads(fx("eval", "--index", "bm", "--rewrite", "lex,lex-clean", "--langs", "es", "--variants", "none", "--json").stdout)
    assert [(r["system"], r["lang"], r["condition"]) for r in first] == [("bm ⟲ lex", "es", "clean"), ("bm ⟲ lex-clean", "es", "clean")]
    ids = {r["eval_run_id"] for r in first}
    assert len(ids) == 2 and not ids & {r["eval_run_id"] for r in direct}
    # the two lexicon rewrites of clean es queries are the same texts: same values, distinct runs
    assert first[0]["R@10"] == first[1]["R@10"]
    keys = _rows(fx.db, "SELECT e.key, w.key FROM eval_runs e JOIN rewrite_runs w ON w.id = e.rewrite_run_id")
    params = [json.loads(p) for (p,) in _rows(fx.db, "SELECT params_json FROM eval_runs WHERE rewrite_run_id IS NOT NULL ORDER BY id")]
    assert [p["rewrite_key"] for p in params] == [w for _, w in keys] and len({k for k, _ in keys}) == 2
    before = snapshot(fx.db)["eval_runs"]
    # INDEX@REWRITE in --index is the same system as --rewrite: every run reused, no new rows
    again = json.loads(fx("eval", "--index", "bm@lex,bm ⟲ lex-clean", "--langs", "es", "--variants", "none", "--json").stdout)
    assert [r["eval_run_id"] for r in again] == [r["eval_run_id"] for r in first]
    assert snapshot(fx.db)["eval_runs"] == before


def test_target_language_is_the_direct_system_and_spell_covers_english(fx):
    # English is lex's target language: its queries need no translation, the direct system covers them
    results = json.loads(fx("eval", "--index", "bm,bm@lex", "--langs", "en,es", "--measures", "R@10", "--json").stdout)
    got = {(r["system"], r["lang"], r["condition"]) for r in results}
    assert got == {("bm", lang, c) for lang in ("en", "es") for c in ("clean", "ielab")} | {("bm ⟲ lex", "es", c) for c in ("clean", "ielab")}
    # without --langs every system is evaluated on what it covers: sp on English, bm on all five
    results = json.loads(fx("eval", "--index", "bm,bm@sp", "--variants", "none", "--measures", "R@10", "--json").stdout)
    assert sorted((r["system"], r["lang"]) for r in results) == sorted(
        [("bm", lang) for lang in ("en", "de", "es", "fr", "ru")] + [("bm ⟲ sp", "en")])


def test_report_rows_for_rewrite_systems(fx):
    fx("eval", "--index", "bm", "--measures", MEASURES)
    fx("eval", "--index", "bm", "--rewrite", "lex,sp", "--measures", MEASURES)
    report = json.loads(fx("report", "--format", "json", "--baseline", "bm").stdout)
    rows = {(r["system"], r["lang"], r["condition"]): r for r in report["rows"]}
    assert {s for s, _, _ in rows} == {"bm", "bm ⟲ lex", "bm ⟲ sp"}
    for (system, lang, condition), r in rows.items():
        (mean,), = _rows(fx.db, "SELECT avg(m.value) FROM eval_measures m JOIN eval_runs e ON e.id = m.eval_run_id"
                               " LEFT JOIN rewrite_runs w ON w.id = e.rewrite_run_id WHERE m.measure = 'R@10' AND m.variant_id = 0"
                               " AND e.lang = :l AND e.condition = :c AND coalesce(w.name, '') = :w",
                         l=lang, c=condition, w=r["rewrite"] or "")
        assert r["mean"] == pytest.approx(mean, abs=1e-12)
        if system != "bm":
            assert r["index"] == "bm" and r["rewrite"] in ("lex", "sp") and r["n_paired"] == r["n"]
            assert r["rewrite_description"].startswith("lexicon → en" if r["rewrite"] == "lex" else "spell → each query's language")
    assert rows[("bm ⟲ lex", "de", "ielab")]["mean"] > rows[("bm", "de", "ielab")]["mean"]
    # the baseline may be a rewrite system, by label or by INDEX@REWRITE
    for name in ("bm@lex", "bm ⟲ lex"):
        other = json.loads(fx("report", "--format", "json", "--baseline", name).stdout)
        assert other["baseline"] == "bm ⟲ lex"
        es = {(r["system"], r["condition"]): r for r in other["rows"] if r["lang"] == "es"}
        assert es[("bm", "clean")]["diff"] == pytest.approx(-rows[("bm ⟲ lex", "es", "clean")]["diff"], abs=1e-12)
    md = fx("report", "--format", "md").stdout
    assert "| bm ⟲ lex |" in md and "lex = lexicon → en" in md
    compare = json.loads(fx("report", "--compare", "bm,bm@lex", "--langs", "de", "--format", "json").stdout)
    assert compare["b"] in ("bm@lex", "bm ⟲ lex") and compare["langs"] == ["de"]


def _refused(cli: Cli, *args: str) -> str:
    before = snapshot(cli.db)
    return assert_refused(cli(*args, ok=False), cli.db, before)


def test_bad_rewrite_requests_are_one_line_and_change_nothing(fx):
    line = _refused(fx, "eval", "--index", "bm", "--rewrite", "nope")
    assert "--rewrite nope: no such rewrite run (rewrite runs: lex, sp, lex-clean)" in line
    assert "does not cover fr" in _refused(fx, "eval", "--index", "bm", "--rewrite", "lex", "--langs", "es,fr")
    assert "does not cover es" in _refused(fx, "eval", "--index", "bm@sp", "--langs", "es")
    assert "not 'train'" in _refused(fx, "eval", "--index", "bm", "--rewrite", "lex", "--split", "train")
    assert "did not rewrite variant set ielab" in _refused(fx, "eval", "--index", "bm", "--rewrite", "lex-clean", "--variants", "ielab")
    assert "covers none of the evaluated query sets" in _refused(fx, "eval", "--index", "bm", "--rewrite", "lex", "--langs", "en")
    assert "a rewrite run name" in _refused(fx, "eval", "--index", "bm", "--rewrite", "bm@lex")
    fx("eval", "--index", "bm", "--langs", "es", "--variants", "none")
    assert "no rewrite run 'nope'" in _refused(fx, "report", "--compare", "bm,bm@nope")


def test_incomplete_rewrite_run_is_refused(fx):
    with open_store(fx.db) as store, store.write() as conn:
        conn.execute(text("DELETE FROM query_rewrites WHERE id = (SELECT max(id) FROM query_rewrites"
                          " WHERE rewrite_run_id = (SELECT id FROM rewrite_runs WHERE name = 'lex'))"))
    assert "finish the rewrite run" in _refused(fx, "eval", "--index", "bm", "--rewrite", "lex")


def test_dense_rewrite_system_encodes_each_distinct_text_once(fx, tiny_bert):
    from xlcli.eval.plan import plan
    from xlcli.eval.querysets import query_sets
    from xlcli.eval.retrieve import Retriever
    from xlcli.eval.runner import _jobs
    from xlcli.eval.systems import SystemSpec
    from xlcli.store.invocations import canonical_json

    fx("index", "--name", "tiny", "--model", tiny_bert, "--device", "cpu")
    with open_store(fx.db, write=False) as store:
        with store.read() as conn:
            p = plan(conn, [SystemSpec("tiny", "lex"), SystemSpec("tiny", "lex-clean")], dataset=None, langs="es", split="test",
                     variants="none", measures="R@10", depth=100)
            jobs = _jobs(conn, p, query_sets(conn, p))
        texts = [t for job in jobs for item in job[3].items for _, _, t in item.texts]
        assert len(texts) == 2 * len(set(texts))  # the two rewrites agree on clean queries
        retriever = Retriever(store, device="cpu")
        retriever.prepare([(row, qs) for _, row, _, qs, *_ in jobs], show_progress=False)
        settings = retriever.model_settings(jobs[0][1])
        assert len(retriever._vectors[canonical_json(settings.identity())]) == len(set(texts))
    results = json.loads(fx("eval", "--index", "tiny", "--rewrite", "lex", "--langs", "es,de", "--device", "cpu", "--json").stdout)
    assert {(r["system"], r["lang"]) for r in results} == {("tiny ⟲ lex", "es"), ("tiny ⟲ lex", "de")}
    assert all(0 <= r["R@10"] <= 1 for r in results)
