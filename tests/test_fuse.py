"""xlcli fuse: fused values equal ranx's fuse, ir_measures on the export, ties, idempotency,
fusions of fusions, optimisation on the train split, leakage, and migration 0004 over old stores."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import fused_store
import ir_measures
import pytest
from conftest import file_key, snapshot, stored_values
from evaluated_store import MEASURES

from xlcli.fuse import optimize
from xlcli.fuse.combine import fuse_ranking, make_spec
from xlcli.fuse.methods import METHODS
from xlcli.fuse.norms import NORMS
from xlcli.fuse.runner import fuse
from xlcli.store import open_store


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_bert):
    return fused_store.build(tmp_path_factory.mktemp("fuse-base"), tiny_bert)


@pytest.fixture
def store_cli(base, tmp_path):
    return fused_store.copy(base, tmp_path / "copy")


def _sql(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _rankings(db, run_id, depth=None):
    """{(query id, variant id): [(ext id, score), ...]} in stored rank order."""
    found = defaultdict(list)
    for qid, vid, ext, score in _sql(db, "SELECT r.query_id, r.variant_id, p.ext_id, r.score FROM eval_rankings r"
                                         " JOIN passages p ON p.id = r.passage_id WHERE r.eval_run_id = ?"
                                         " ORDER BY r.query_id, r.variant_id, r.rank", run_id):
        if depth is None or len(found[(qid, vid)]) < depth:
            found[(qid, vid)].append((ext, score))
    return found


def _input_runs(db, fused_run_id):
    return json.loads(_sql(db, "SELECT params_json FROM eval_runs WHERE id = ?", fused_run_id)[0][0])["input_eval_runs"]


def _keys(db, run_id):
    return [tuple(k) for k in _sql(db, "SELECT DISTINCT query_id, variant_id FROM eval_measures WHERE eval_run_id = ?"
                                       " AND (variant_id > 0) = (SELECT variant_set_id IS NOT NULL FROM eval_runs WHERE id = ?)",
                                   run_id, run_id)]


COMBOS = [(m, n) for m in METHODS for n in NORMS if not METHODS[m].uses_ranks or n == "none"]


def test_fused_scores_equal_ranx_fuse_for_every_method_and_norm(store_cli):
    ranx = pytest.importorskip("ranx")
    db, depth = store_cli.db, 4  # depth 4 < the conversation's passages: the inputs are cut
    checked = 0
    for method, norm in COMBOS:
        name = f"f-{method}-{norm}"
        args = ["fuse", "--name", name, "--systems", "bm,tiny", "--method", method, "--depth", depth, "--json"]
        args += [] if METHODS[method].uses_ranks else ["--norm", norm]
        weights = [0.7, 0.3] if METHODS[method].weighted and not METHODS[method].uses_ranks else None  # ranx's rrf has none
        if weights:
            args += ["--weights", ",".join(map(str, weights))]
        results = json.loads(store_cli(*args).stdout)
        assert {(r["lang"], r["condition"]) for r in results} >= {("en", "clean"), ("en", "ielab"), ("es", "clean")}
        for r in results:
            fused = _rankings(db, r["eval_run_id"])
            inputs = [_rankings(db, run_id, depth) for run_id in _input_runs(db, r["eval_run_id"])]
            keys = [k for k in _keys(db, r["eval_run_id"]) if all(inp.get(k) for inp in inputs)]
            qid = lambda k: f"{k[0]}:{k[1]}"  # noqa: E731
            if METHODS[method].uses_ranks:  # RRF reads ranks: give ranx our rank order as strictly falling scores
                runs = [ranx.Run({qid(k): {d: float(depth - i) for i, (d, _) in enumerate(inp[k])} for k in keys}) for inp in inputs]
            else:
                runs = [ranx.Run({qid(k): dict(inp[k]) for k in keys}) for inp in inputs]
            params = {"weights": weights} if weights else ({"k": 60} if method == "rrf" else {})
            expected = ranx.fuse(runs, norm=NORMS[norm].ranx, method=METHODS[method].ranx, params=params).to_dict()
            for k in keys:
                want = expected[qid(k)]
                got = dict(fused[k])
                assert set(got) <= set(want)
                for doc, score in got.items():
                    assert score == pytest.approx(want[doc], rel=1e-9, abs=1e-12), (method, norm, k, doc)
                # the top `depth` by score: nothing ranx scores higher was left out
                floor = min(got.values())
                assert all(s <= floor + 1e-12 for d, s in want.items() if d not in got)
                checked += 1
    assert checked > 50


def test_rrf_with_weights_one_equals_ranx_rrf_with_k(store_cli):
    ranx = pytest.importorskip("ranx")
    results = json.loads(store_cli("fuse", "--name", "r10", "--systems", "bm,tiny", "--k", "10", "--json").stdout)
    db = store_cli.db
    for r in results:
        inputs = [_rankings(db, run_id) for run_id in _input_runs(db, r["eval_run_id"])]
        keys = [k for k in _keys(db, r["eval_run_id"]) if all(inp.get(k) for inp in inputs)]
        runs = [ranx.Run({f"{k}": {d: float(100 - i) for i, (d, _) in enumerate(inp[k])} for k in keys}) for inp in inputs]
        expected = ranx.fuse(runs, norm=None, method="rrf", params={"k": 10}).to_dict()
        fused = _rankings(db, r["eval_run_id"])
        for k in keys:
            assert dict(fused[k]) == pytest.approx(expected[f"{k}"], rel=1e-12)


def test_every_fused_value_equals_ir_measures_on_the_exported_run(store_cli, tmp_path):
    out = tmp_path / "runs"
    results = json.loads(store_cli("fuse", "--name", "hyb", "--systems", "bm,tiny", "--method", "combmnz",
                                   "--measures", MEASURES, "--trec-out", out, "--json").stdout)
    values, keys = stored_values(store_cli.db), file_key(store_cli.db)
    measures = [ir_measures.parse_measure(m) for m in MEASURES.split()]
    checked = 0
    for r in results:
        stem = f"hyb.{r['lang']}.{r['condition']}"
        run = list(ir_measures.read_trec_run(str(out / f"{stem}.run")))
        qrels = list(ir_measures.read_trec_qrels(str(out / f"{stem}.qrels")))
        for m in ir_measures.iter_calc(measures, qrels, run):
            assert values[r["eval_run_id"]][keys[r["eval_run_id"]][m.query_id]][str(m.measure)] == pytest.approx(m.value, abs=1e-12)
            checked += 1
    assert checked >= 3 * len(results)


def test_ties_are_broken_by_passage_ext_id_descending():
    spec = make_spec("combsum", "none", None, None, 10, 2)
    a = [("conv-b/D1:1", 1.0), ("conv-b/D1:3", 0.5)]
    b = [("conv-b/D1:2", 1.0), ("conv-b/D1:4", 0.5), ("conv-b/D1:3", 0.5)]
    ranking = fuse_ranking([a, b], spec)
    assert ranking == [("conv-b/D1:3", 1.0), ("conv-b/D1:2", 1.0), ("conv-b/D1:1", 1.0), ("conv-b/D1:4", 0.5)]
    assert fuse_ranking([b, a], spec) == ranking  # input order does not change a tie's order


def test_degenerate_normalisations_follow_ranx():
    single, equal = {"d": 3.0}, {"a": 2.0, "b": 2.0}
    for name in ("minmax", "zmuv", "sum"):
        assert NORMS[name].fn(single) == {"d": 0.0}
        assert NORMS[name].fn(equal) == {"a": 0.0, "b": 0.0}
    assert NORMS["max"].fn({"a": -2.0, "b": -1.0}) == {"a": -2.0 / 1e-9, "b": -1.0 / 1e-9}
    assert all(n.fn({}) == {} for n in NORMS.values())


def test_rerun_is_a_no_op(store_cli):
    store_cli("fuse", "--name", "hyb", "--systems", "bm,tiny")
    before = snapshot(store_cli.db)
    again = store_cli("fuse", "--name", "hyb", "--systems", "bm,tiny")
    assert "were already stored and were reused" in again.stdout
    assert snapshot(store_cli.db) == before


def test_a_fusion_can_be_fused(store_cli):
    store_cli("fuse", "--name", "hyb", "--systems", "bm,tiny")
    results = json.loads(store_cli("fuse", "--name", "hyb2", "--systems", "hyb,bm", "--method", "wsum",
                                   "--weights", "1,0.5", "--json").stdout)
    db = store_cli.db
    spec = make_spec("wsum", None, None, [1.0, 0.5], 100, 2)
    hyb_runs = {(lg, c): i for i, lg, c in _sql(db, "SELECT e.id, e.lang, e.condition FROM eval_runs e"
                                                   " JOIN fusion_runs f ON f.id = e.fusion_run_id WHERE f.name = 'hyb'")}
    for r in results:
        first, second = _input_runs(db, r["eval_run_id"])
        assert first == hyb_runs[(r["lang"], r["condition"])]
        a, b, fused = _rankings(db, first), _rankings(db, second), _rankings(db, r["eval_run_id"])
        for k in _keys(db, r["eval_run_id"]):
            assert fused[k] == fuse_ranking([a.get(k, []), b.get(k, [])], spec)
    params = json.loads(_sql(db, "SELECT params_json FROM fusion_runs WHERE name = 'hyb2'")[0][0])
    assert [i["kind"] for i in params["inputs"]] == ["fusion", "index"]


def _mean(db, name, split, measure):
    runs = _sql(db, "SELECT e.id FROM eval_runs e JOIN fusion_runs f ON f.id = e.fusion_run_id WHERE f.name = ? AND e.split = ?",
                name, split)
    means = [_sql(db, "SELECT avg(value) FROM eval_measures WHERE eval_run_id = ? AND variant_id = 0 AND measure = ?",
                  run_id, measure)[0][0] for (run_id,) in runs]
    return sum(means) / len(means)


def test_optimisation_picks_the_best_grid_point_of_the_train_split(store_cli):
    db = store_cli.db
    # every grid point, fused on the train split by hand
    grid = [c.weights for c in optimize.grid(make_spec("wsum", None, None, None, 100, 2))]
    scores = []
    for i, weights in enumerate(grid):
        store_cli("fuse", "--name", f"g{i}", "--systems", "bm,tiny", "--method", "wsum", "--split", "train",
                  "--weights", ",".join(map(str, weights)), "--measures", "RR@10")
        scores.append(_mean(db, f"g{i}", "train", "RR@10"))
    best = max(scores)
    assert len(set(round(s, 9) for s in scores)) > 1  # the grid matters on this store
    store_cli("fuse", "--name", "fit", "--systems", "bm,tiny", "--method", "wsum", "--optimize-on", "train", "--opt-measure", "RR@10")
    params = json.loads(_sql(db, "SELECT params_json FROM fusion_runs WHERE name = 'fit'")[0][0])
    assert params["weights_from"]["score"] == pytest.approx(best)
    assert tuple(params["weights"]) == grid[next(i for i, s in enumerate(scores) if s == pytest.approx(best))]
    assert params["leakage"] is False


def test_optimising_on_an_evaluation_split_is_refused_unless_allowed(store_cli):
    before = snapshot(store_cli.db)
    refused = store_cli("fuse", "--name", "leak", "--systems", "bm,tiny", "--optimize-on", "test", ok=False)
    assert refused.exit_code == 2
    lines = refused.output.strip().splitlines()
    assert lines[-1].startswith("Error: --optimize-on test: that is an evaluation split") and "Traceback" not in refused.output
    assert snapshot(store_cli.db) == before
    store_cli("fuse", "--name", "leak", "--systems", "bm,tiny", "--optimize-on", "test", "--allow-leakage")
    params = json.loads(_sql(store_cli.db, "SELECT params_json FROM fusion_runs WHERE name = 'leak'")[0][0])
    assert params["leakage"] is True and params["weights_from"]["optimize_on"] == "test"


def test_library_call_returns_the_stored_means(store_cli):
    with open_store(store_cli.db, write=True) as store:
        results = fuse(store, "lib", "bm,tiny", show_progress=False)
    assert results and all(not r.reused for r in results)
    for r in results:
        mean = _sql(store_cli.db, "SELECT avg(value) FROM eval_measures WHERE eval_run_id = ? AND variant_id = 0 AND measure = 'R@10'",
                    r.eval_run_id)[0][0]
        assert r.means["R@10"] == pytest.approx(mean)


def test_fused_systems_are_report_rows_with_gains_and_categories(store_cli):
    store_cli("fuse", "--name", "hyb", "--systems", "bm,tiny")
    rows = json.loads(store_cli("report", "--measure", "R@10", "--format", "json").stdout)["rows"]
    fused = [r for r in rows if r["system"] == "hyb"]
    assert fused and all(r["augmentation"] == "rrf k=60 of bm, tiny" for r in fused)
    assert all("gain" in r or "p_holm" in r or r["baseline"] == "bm" for r in fused)
    means = {(r["lang"], r["condition"]): r["mean"] for r in fused}
    db = store_cli.db
    for (lang, condition), mean in means.items():
        (run_id,) = _sql(db, "SELECT max(e.id) FROM eval_runs e JOIN fusion_runs f ON f.id = e.fusion_run_id"
                             " WHERE f.name = 'hyb' AND e.lang = ? AND e.condition = ? AND e.split = 'test'", lang, condition)[0]
        stored = _sql(db, "SELECT avg(value) FROM eval_measures WHERE eval_run_id = ? AND variant_id = 0 AND measure = 'R@10'", run_id)
        assert mean == pytest.approx(stored[0][0])
    by_category = store_cli("report", "--measure", "R@10", "--by", "category", "--format", "json").stdout
    assert any(r["system"] == "hyb" for r in json.loads(by_category)["rows"])
    assert "hyb" in store_cli("report", "--measure", "R@10", "--baseline", "hyb").stdout


def _content(db):
    keep = {"eval_runs": "id, index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth, params_json, key,"
                         " invocation_id, rewrite_run_id, fusion_run_id",
            "fusion_runs": "id, dataset_id, name, method, params_json, key, invocation_id",
            "eval_rankings": "*", "eval_measures": "*"}
    return {t: sorted(_sql(db, f"SELECT {cols} FROM {t}")) for t, cols in keep.items()}  # created_at aside


def test_an_interrupted_fuse_resumes_to_the_rows_of_an_uninterrupted_one(base, tmp_path, monkeypatch):
    whole, broken = fused_store.copy(base, tmp_path / "whole"), fused_store.copy(base, tmp_path / "broken")
    whole("fuse", "--name", "hyb", "--systems", "bm,tiny")
    import xlcli.fuse.runner as runner

    calls, real = [], runner.store_run

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # Ctrl-C after two runs were committed
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "store_run", interrupted)
    assert broken("fuse", "--name", "hyb", "--systems", "bm,tiny", ok=False).exit_code == 130  # the root's exit on Ctrl-C
    assert len(_sql(broken.db, "SELECT id FROM eval_runs WHERE fusion_run_id IS NOT NULL")) == 2
    assert _sql(broken.db, "SELECT state FROM invocations WHERE step = 'fuse'") == [("failed",)]
    monkeypatch.setattr(runner, "store_run", real)
    broken("fuse", "--name", "hyb", "--systems", "bm,tiny")
    assert _content(broken.db) == _content(whole.db)
    assert _sql(broken.db, "SELECT state, attempts FROM invocations WHERE step = 'fuse'") == [("done", 2)]


def test_systems_are_named_as_typed_or_as_reports_print_them():
    from xlcli.fuse.inputs import parse_names

    assert parse_names("minilm, minilm ⟲ lexicon,bm25@lexicon,minilm@lexicon") == ["minilm", "minilm@lexicon", "bm25@lexicon"]
