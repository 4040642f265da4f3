"""xlcli.metrics against ir_measures (pytrec_eval, msmarco providers) on the same runs and qrels."""

from __future__ import annotations

import ir_measures
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlcli import metrics
from xlcli.errors import XlcliError

MEASURES = "R@1 R@5 R@10 R@25 R@50 P@1 P@5 P@10 Success@1 Success@5 Success@10 nDCG@10 nDCG@3 nDCG RR@10 RR@3 RR AP AP@5 AP@100"

# Doc ids whose string order differs from their numeric order and from insertion order, so that
# any tie-break other than the reference's shows up.
DOC_IDS = ["d1", "d10", "d2", "D3", "conv-26/D1:3", "conv-26/D1:12", "conv-26/D10:1", "é9", "z", "a", "b_2", "b-2"]


def reference(run, qrels, names):
    measures = [ir_measures.parse_measure(n) for n in names]
    values: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(measures, qrels, run):
        values.setdefault(metric.query_id, {})[str(metric.measure)] = metric.value
    return values


def ours(run, qrels, names):
    return metrics.evaluate(run, qrels, metrics.parse_many(names))


def assert_same(run, qrels, names=MEASURES):
    names = names.split()
    expected = reference(run, qrels, names)
    got = ours(run, qrels, names)
    assert set(got) == set(expected)
    for qid in expected:
        for name in names:
            canonical = str(ir_measures.parse_measure(name))
            assert got[qid][metrics.parse(name).name] == pytest.approx(expected[qid][canonical], abs=1e-9), (qid, name)


queries = st.dictionaries(
    keys=st.sampled_from(["q1", "q2", "q3", "q4"]),
    values=st.tuples(
        # run: doc -> score from a small set, so that ties are common
        st.dictionaries(st.sampled_from(DOC_IDS), st.sampled_from([0.0, 0.25, 0.5, 0.5, 1.0, -1.5, 3.0])),
        # qrels: doc -> graded relevance, zeros included (judged non-relevant)
        st.dictionaries(st.sampled_from(DOC_IDS), st.integers(min_value=0, max_value=3)),
    ),
    min_size=1,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_equals_ir_measures_on_random_runs_with_ties_and_graded_qrels(data):
    run = {q: r for q, (r, _) in data.items() if r}
    qrels = {q: j for q, (_, j) in data.items() if j}
    if not qrels:
        return
    assert_same(run, qrels)


def test_ties_follow_each_providers_order():
    # All four docs tie; trec_eval ranks d3 > d2 > d1 (docno descending), msmarco d1 > d2 > d3.
    run = {"q": {"d1": 1.0, "d2": 1.0, "d3": 1.0}}
    qrels = {"q": {"d1": 1}}
    got = ours(run, qrels, ["RR", "RR@10", "R@1", "Success@2"])["q"]
    assert got == {"RR": 1 / 3, "RR@10": 1.0, "R@1": 0.0, "Success@2": 0.0}
    assert_same(run, qrels, "RR RR@10 R@1 Success@2 nDCG@2 AP P@1")


def test_queries_with_nothing_relevant_retrieved_or_no_run():
    run = {"q1": {"a": 2.0, "b": 1.0}, "q3": {"a": 1.0}}
    qrels = {"q1": {"z": 1, "a": 0}, "q2": {"a": 1}, "q3": {"a": 0}}
    got = ours(run, qrels, MEASURES.split())
    assert set(got) == {"q1", "q2", "q3"}
    assert all(v == 0.0 for values in got.values() for v in values.values())
    assert_same(run, qrels)


def test_graded_ndcg_and_recall_by_hand():
    run = {"q": {"a": 3.0, "b": 2.0, "c": 1.0}}
    qrels = {"q": {"a": 1, "c": 2, "d": 3}}
    got = ours(run, qrels, ["nDCG@3", "R@2", "R@3", "AP", "P@2"])["q"]
    import math

    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert got["nDCG@3"] == pytest.approx(dcg / idcg)
    assert got["R@2"] == pytest.approx(1 / 3)
    assert got["R@3"] == pytest.approx(2 / 3)
    assert got["AP"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert got["P@2"] == pytest.approx(1 / 2)
    assert_same(run, qrels, "nDCG@3 R@2 R@3 AP P@2")


def test_parse_names_and_aliases():
    assert [m.name for m in metrics.parse_many("R@5 Recall@10, MRR@10 MAP@100 NDCG@10 nDCG Success@1 P@5 R@5")] == [
        "R@5", "R@10", "RR@10", "AP@100", "nDCG@10", "nDCG", "Success@1", "P@5",
    ]
    for bad in ["R", "Foo@3", "R@0", "R@x", "", "nDCG@"]:
        with pytest.raises(XlcliError):
            metrics.parse_many(bad) if bad == "" else metrics.parse(bad)


def test_mean_is_over_evaluated_queries():
    per_query = {"a": {"R@1": 1.0}, "b": {"R@1": 0.0}, "c": {"R@1": 0.5}}
    assert metrics.mean(per_query, metrics.parse_many("R@1")) == {"R@1": 0.5}
