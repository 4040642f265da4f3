"""xlcli eval: stored runs, per-query values equal to ir_measures on the exported TREC files."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import ir_measures
import pytest
from conftest import committed_fixture, small_locomo, snapshot

from xlcli.store import open_store

MEASURES = "R@1 R@5 R@10 nDCG@10 RR@10 Success@5 P@5 AP@100 AP RR"


def stored_values(db: Path) -> dict[int, dict[tuple[int, int], dict[str, float]]]:
    values: dict = defaultdict(lambda: defaultdict(dict))
    with open_store(db, write=False) as store, store.read() as conn:
        for run_id, qid, vid, measure, value in conn.exec_driver_sql(
            "SELECT eval_run_id, query_id, variant_id, measure, value FROM eval_measures"
        ):
            values[run_id][(qid, vid)][measure] = value
    return values


def file_key(db: Path) -> dict[int, dict[str, tuple[int, int]]]:
    """Per eval run: TREC qid → (query id, variant id) as the export names them."""
    keys: dict = defaultdict(dict)
    with open_store(db, write=False) as store, store.read() as conn:
        for run_id, qid, ext, vid, idx in conn.exec_driver_sql(
            "SELECT DISTINCT m.eval_run_id, m.query_id, q.ext_id, m.variant_id, v.idx FROM eval_measures m"
            " JOIN queries q ON q.id = m.query_id LEFT JOIN query_variants v ON v.id = m.variant_id"
        ):
            keys[run_id][ext if vid == 0 else f"{ext}#{idx}"] = (qid, vid)
    return keys


@pytest.fixture
def evaluated(small_store, db, fake_model, tmp_path):
    """Eval bookkeeping is not about the encoder: the torch-free fake stands in for it."""
    small_store("index", "--name", "tiny", "--model", fake_model, "--device", "cpu")
    small_store("index", "--name", "bm", "--bm25")
    small_store("perturb", "--protocol", "ielab", "--variants", "3", "--split", "test")
    out = tmp_path / "runs"
    result = small_store("eval", "--index", "tiny,bm", "--measures", MEASURES, "--trec-out", out, "--json", "--device", "cpu")
    return json.loads(result.stdout), out


def test_every_stored_value_equals_ir_measures_on_the_exported_run(evaluated, db):
    results, out = evaluated
    conditions = {(r["index"], r["lang"], r["condition"]) for r in results}
    # conv-b is the test split: en plus its es/de translations, clean and misspelled, for both indexes.
    assert {("tiny", "en", "clean"), ("bm", "en", "clean"), ("tiny", "es", "clean"), ("bm", "de", "ielab")} <= conditions
    values, keys = stored_values(db), file_key(db)
    measures = [ir_measures.parse_measure(m) for m in MEASURES.split()]
    checked = 0
    for r in results:
        stem = f"{r['index']}.{r['lang']}.{r['condition']}"
        run = list(ir_measures.read_trec_run(str(out / f"{stem}.run")))
        qrels = list(ir_measures.read_trec_qrels(str(out / f"{stem}.qrels")))
        reference = defaultdict(dict)
        for metric in ir_measures.iter_calc(measures, qrels, run):
            reference[metric.query_id][str(metric.measure)] = metric.value
        run_values = values[r["eval_run_id"]]
        # The files hold what was ranked: clean queries, or each variant (not the per-query means).
        run_keys = {k: v for k, v in keys[r["eval_run_id"]].items() if (v[1] != 0) == (r["condition"] != "clean")}
        assert set(reference) == set(run_keys)
        for trec_qid, expected in reference.items():
            for name, value in expected.items():
                assert run_values[run_keys[trec_qid]][name] == pytest.approx(value, abs=1e-9), (stem, trec_qid, name)
                checked += 1
        # The JSON means are ir_measures' aggregate for clean runs.
        if r["condition"] == "clean":
            aggregate = ir_measures.calc_aggregate(measures, qrels, run)
            for m in measures:
                assert r[str(m)] == pytest.approx(aggregate[m], abs=1e-9)
    assert checked > 300


def test_tied_scores_are_measured_as_ir_measures_reads_the_export(cli, db, fake_model, tmp_path):
    """Identical turns get identical vectors and BM25 scores: the ties straddle the relevant turns."""
    turns = ["I like tea.", "I like tea.", "We went hiking.", "I like tea.", "We went hiking.", "I like tea.",
             "We went hiking.", "I like tea.", "I like tea.", "We went hiking.", "I like tea.", "I like tea."]
    sample = {
        "sample_id": "conv-t",
        "conversation": {"speaker_a": "Al", "speaker_b": "Al", "session_1_date_time": "1:00 pm on 1 May, 2023",
                         "session_1": [{"speaker": "Al", "dia_id": f"D1:{i}", "text": t} for i, t in enumerate(turns, 1)]},
        "qa": [{"question": "Does Al like tea?", "answer": "yes", "evidence": [e], "category": 4} for e in ("D1:1", "D1:2", "D1:12", "D1:8")]
              + [{"question": "Where did they go hiking?", "answer": "x", "evidence": ["D1:3", "D1:10"], "category": 4}],
    }
    path = tmp_path / "ties.json"
    path.write_text(json.dumps([sample]))
    cli("ingest", "locomo", path, "--name", "ties")
    cli("index", "--name", "tiny", "--model", fake_model, "--device", "cpu")
    cli("index", "--name", "bm", "--bm25")
    out = tmp_path / "runs"
    results = json.loads(cli("eval", "--index", "tiny,bm", "--measures", MEASURES + " R@2 R@3 P@1 Success@1 RR@1 nDCG@3",
                             "--trec-out", out, "--json", "--device", "cpu").stdout)
    measures = [ir_measures.parse_measure(m) for m in (MEASURES + " R@2 R@3 P@1 Success@1 RR@1 nDCG@3").split()]
    values, keys = stored_values(db), file_key(db)
    for r in results:
        run = list(ir_measures.read_trec_run(str(out / f"{r['index']}.en.clean.run")))
        assert len({round(x.score, 12) for x in run}) < len(run) / 2  # mostly ties
        qrels = list(ir_measures.read_trec_qrels(str(out / f"{r['index']}.en.clean.qrels")))
        for metric in ir_measures.iter_calc(measures, qrels, run):
            stored = values[r["eval_run_id"]][keys[r["eval_run_id"]][metric.query_id]][str(metric.measure)]
            assert stored == pytest.approx(metric.value, abs=1e-9), (r["index"], metric)


def test_beir_without_scopes_searches_every_passage_with_graded_qrels(cli, db, fake_model, tmp_path):
    cli("ingest", "beir", committed_fixture("beir"), "--name", "beir")
    cli("index", "--name", "tiny", "--model", fake_model, "--device", "cpu")
    cli("index", "--name", "bm", "--bm25")
    with open_store(db, write=False) as store, store.read() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM passages").scalar()
        chunks = conn.exec_driver_sql("SELECT count(*) FROM vec_1_chunks").scalar()
        graded = conn.exec_driver_sql("SELECT count(*) FROM qrels WHERE relevance > 1").scalar()
    assert chunks == 1 and graded > 0  # scope-less vectors share vec0 chunks
    out = tmp_path / "runs"
    results = json.loads(cli("eval", "--index", "tiny,bm", "--measures", MEASURES, "--depth", str(n), "--trec-out", out,
                             "--json", "--device", "cpu").stdout)
    measures = [ir_measures.parse_measure(m) for m in MEASURES.split()]
    values, keys = stored_values(db), file_key(db)
    for r in results:
        run = list(ir_measures.read_trec_run(str(out / f"{r['index']}.en.clean.run")))
        if r["index"] == "tiny":
            assert len(run) == r["queries"] * n  # every query ranks every passage
        qrels = list(ir_measures.read_trec_qrels(str(out / f"{r['index']}.en.clean.qrels")))
        for metric in ir_measures.iter_calc(measures, qrels, run):
            stored = values[r["eval_run_id"]][keys[r["eval_run_id"]][metric.query_id]][str(metric.measure)]
            assert stored == pytest.approx(metric.value, abs=1e-9), (r["index"], metric)


def test_a_misspelled_querys_value_is_the_mean_over_its_variants(evaluated, db):
    results, _ = evaluated
    values = stored_values(db)
    with open_store(db, write=False) as store, store.read() as conn:
        variant_query = dict(conn.exec_driver_sql("SELECT id, query_id FROM query_variants").all())
    for r in (r for r in results if r["condition"] == "ielab"):
        run = values[r["eval_run_id"]]
        per_query = {qid: v for (qid, vid), v in run.items() if vid == 0}
        by_query = defaultdict(list)
        for (qid, vid), v in run.items():
            if vid:
                assert variant_query[vid] == qid
                by_query[qid].append(v)
        assert set(by_query) == set(per_query) and r["queries"] == len(per_query)
        for qid, variants in by_query.items():
            for name in MEASURES.split():
                assert per_query[qid][name] == pytest.approx(sum(v[name] for v in variants) / len(variants), abs=1e-12)
        for name in MEASURES.split():
            assert r[name] == pytest.approx(sum(v[name] for v in per_query.values()) / len(per_query), abs=1e-12)


def test_rankings_stay_within_the_querys_conversation_and_depth(evaluated, db):
    with open_store(db, write=False) as store, store.read() as conn:
        outside = conn.exec_driver_sql(
            "SELECT count(*) FROM eval_rankings r JOIN queries q ON q.id = r.query_id JOIN passages p ON p.id = r.passage_id"
            " WHERE p.scope != q.scope"
        ).scalar()
        ranks = conn.exec_driver_sql("SELECT min(rank), max(rank) FROM eval_rankings").one()
        no_qrels = conn.exec_driver_sql(
            "SELECT count(*) FROM eval_measures m WHERE NOT EXISTS (SELECT 1 FROM qrels WHERE query_id = m.query_id)"
        ).scalar()
    assert outside == 0 and ranks[0] == 1 and ranks[1] <= 100 and no_qrels == 0


def test_rerunning_eval_reuses_stored_runs(evaluated, small_store, db):
    results, _ = evaluated
    before = snapshot(db)
    again = json.loads(small_store("eval", "--index", "tiny,bm", "--measures", MEASURES, "--json", "--device", "cpu").stdout)
    assert again == results
    after = snapshot(db)
    assert {k: v for k, v in after.items() if k != "invocations"} == {k: v for k, v in before.items() if k != "invocations"}
    table = small_store("eval", "--index", "bm", "--langs", "en", "--variants", "none", "--measures", MEASURES).stdout
    assert "reused" in table and "bm" in table


def test_bad_input_is_one_line_exit_2_and_leaves_the_store_unchanged(small_store, db, fake_model, tmp_path):
    small_store("index", "--name", "bm", "--bm25")
    small_store("index", "--name", "half", "--model", fake_model, "--shard", "1/2", "--device", "cpu")
    before = snapshot(db)
    cases = [
        (["--index", "bm", "--langs", "it"], "no it queries"),
        (["--index", "bm", "--langs", "xx"], "unknown language"),
        (["--index", "bm", "--split", "dev"], "--split dev"),
        (["--index", "bm", "--variants", "nope"], "--variants nope"),
        (["--index", "bm", "--measures", "R@10 Foo@3"], "Foo@3"),
        (["--index", "bm", "--depth", "5"], "--depth 5"),
        (["--index", "nope"], "no index 'nope'"),
        (["--index", "half"], "not complete"),
        (["--index", "bm", "--dataset", "other"], "built on dataset"),
        (["--index", "bm", "--trec-out", tmp_path / "missing" / "dir"], "--trec-out"),
    ]
    for args, message in cases:
        result = small_store("eval", *args, ok=False)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], (args, result.output)
        assert snapshot(db) == before, args


def test_eval_on_a_dataset_without_qrels_is_refused(cli, db, tmp_path):
    data = small_locomo()
    for sample in data:
        for qa in sample["qa"]:
            qa["evidence"] = []
    path = tmp_path / "no-evidence.json"
    path.write_text(json.dumps(data))
    cli("ingest", "locomo", path, "--name", "bare")
    cli("index", "--name", "bm", "--bm25")
    before = snapshot(db)
    result = cli("eval", "--index", "bm", ok=False)
    assert result.exit_code == 2 and "has no qrels" in result.output
    assert snapshot(db) == before


@pytest.mark.slow
def test_packaged_minilm_end_to_end(small_store, db, tmp_path):
    """The default model: index, search, eval; exact search equals vec0 KNN with no tolerance."""
    small_store("index", "--name", "minilm", "--batch-size", "8", "--device", "cpu")
    hits = json.loads(small_store("search", "What is the name of Jolene's dog?", "--index", "minilm", "--scope", "conv-a",
                                  "-k", "3", "--json", "--device", "cpu").stdout)
    assert hits[0]["passage"] == "conv-a/D1:1"  # "I adopted a beagle puppy called Pepper"
    results = json.loads(small_store("eval", "--index", "minilm", "--langs", "en", "--json", "--device", "cpu",
                                     "--trec-out", tmp_path / "runs").stdout)
    (en,) = results
    run = list(ir_measures.read_trec_run(str(tmp_path / "runs" / "minilm.en.clean.run")))
    qrels = list(ir_measures.read_trec_qrels(str(tmp_path / "runs" / "minilm.en.clean.qrels")))
    assert en["R@10"] == pytest.approx(ir_measures.calc_aggregate([ir_measures.R @ 10], qrels, run)[ir_measures.R @ 10], abs=1e-9)
    assert en["R@5"] > 0.5  # a real encoder finds most evidence among the few turns of a conversation

    from xlcli.models import resolve_model
    from xlcli.search import DenseIndex, knn
    from xlcli.store.catalog import resolve_index

    with open_store(db, write=False) as store, store.read() as conn:
        row = resolve_index(conn, "minilm")
        queries = conn.exec_driver_sql("SELECT text, scope FROM queries").all()
        vectors = resolve_model(conn, "default")[1].load("cpu").encode_queries([q.text for q in queries])
        for vec, q, ranking in zip(vectors, queries, DenseIndex.load(conn, row).search(vectors, [q.scope for q in queries], 10)):
            assert [p for p, _ in ranking] == [p for p, _ in knn(conn, row, vec, 10, q.scope)]
