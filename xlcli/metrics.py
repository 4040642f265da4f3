"""IR measures, named and defined as ir_measures (MacAvaney et al., ECIR 2022) names and computes them.

A measure is written ``Family@k`` (``R@10``, ``nDCG@10``, ``RR@10``, ``Success@5``, ``P@5``, ``AP@100``)
or ``Family`` for no cutoff. The aliases ir_measures accepts (``Recall``, ``MRR``, ``MAP``, ``NDCG``,
``Precision``) map to the canonical names. A passage is relevant when its qrel relevance is ≥ 1.

Values equal ir_measures' on the same run and qrels, to floating-point precision — including how
*ties* are ordered, which is where implementations differ. ir_measures computes each measure with a
"provider", and the providers order tied scores differently:

* trec_eval / pytrec_eval (Van Gysel & de Rijke, SIGIR 2018), which ir_measures uses for R, P,
  Success, AP, nDCG and RR without a cutoff, sorts by score descending, then by **docno descending**
  (``comp_sim_docno`` in trec_eval's ``form_res_rels.c``; the rank column of a run file is ignored).
* MS MARCO's ``msmarco_eval.py``, which ir_measures uses for ``RR@k``, sorts by score descending, then
  by **doc id ascending**.

Each measure below therefore declares its tie order, and :func:`evaluate` ranks every query's
(doc id → score) map in that order before computing it. xlcli's own rankings (and TREC exports) use
the trec_eval order (score desc, doc id desc), so for every measure but ``RR@k`` the stored rank is
the rank the measure sees.

Only queries that have qrels are evaluated (as in ir_measures); a query with qrels but no retrieved
passage gets 0, and a query whose qrels are all non-relevant gets 0 for every measure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from xlcli.errors import XlcliError

TREC_EVAL = "trec_eval"  # score desc, doc id desc
MSMARCO = "msmarco"  # score desc, doc id asc

RELEVANT = 1  # trec_eval's default relevance_level: relevance >= 1 is relevant

# A measure function gets the relevance of each ranked document (0 when unjudged), in rank order
# and already cut at the measure's cutoff, plus every judged relevance of the query.
MeasureFn = Callable[[Sequence[int], Sequence[int], "int | None"], float]


def _num_rel(judged: Sequence[int]) -> int:
    return sum(1 for r in judged if r >= RELEVANT)


def recall(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """R@k: relevant documents in the top k / all relevant documents (trec_eval ``recall_k``)."""
    num_rel = _num_rel(judged)
    if num_rel == 0:
        return 0.0
    return sum(1 for r in ranked if r >= RELEVANT) / num_rel


def precision(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """P@k: relevant documents in the top k / k, even when fewer than k were retrieved (``P_k``)."""
    return sum(1 for r in ranked if r >= RELEVANT) / cutoff


def success(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """Success@k: 1 if a relevant document is in the top k, else 0 (``success_k``)."""
    return 1.0 if any(r >= RELEVANT for r in ranked) else 0.0


def reciprocal_rank(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """RR@k: 1 / rank of the first relevant document in the top k, 0 if none (``recip_rank``)."""
    for rank, r in enumerate(ranked, start=1):
        if r >= RELEVANT:
            return 1.0 / rank
    return 0.0


def average_precision(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """AP@k: sum of precision at each relevant rank ≤ k, over *all* relevant documents (``map_cut_k``)."""
    num_rel = _num_rel(judged)
    if num_rel == 0:
        return 0.0
    hits, total = 0, 0.0
    for rank, r in enumerate(ranked, start=1):
        if r >= RELEVANT:
            hits += 1
            total += hits / rank
    return total / num_rel


def ndcg(ranked: Sequence[int], judged: Sequence[int], cutoff: int | None) -> float:
    """nDCG@k (Järvelin & Kekäläinen 2002) as trec_eval's ``ndcg_cut_k``.

    Gain = the relevance grade itself (not 2^rel − 1), discount log2(rank + 1); the ideal ranking
    orders all positive grades of the query's qrels, cut at k.
    """
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(ranked) if r > 0)
    ideal = sorted((r for r in judged if r > 0), reverse=True)
    if cutoff is not None:
        ideal = ideal[:cutoff]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


@dataclass(frozen=True)
class Family:
    name: str
    fn: MeasureFn
    tie_order: str
    tie_order_with_cutoff: str
    needs_cutoff: bool = False


FAMILIES: dict[str, Family] = {
    "R": Family("R", recall, TREC_EVAL, TREC_EVAL, needs_cutoff=True),
    "P": Family("P", precision, TREC_EVAL, TREC_EVAL, needs_cutoff=True),
    "Success": Family("Success", success, TREC_EVAL, TREC_EVAL, needs_cutoff=True),
    "RR": Family("RR", reciprocal_rank, TREC_EVAL, MSMARCO),
    "AP": Family("AP", average_precision, TREC_EVAL, TREC_EVAL),
    "nDCG": Family("nDCG", ndcg, TREC_EVAL, TREC_EVAL),
}
ALIASES = {"Recall": "R", "Precision": "P", "MRR": "RR", "MAP": "AP", "NDCG": "nDCG"}
_BY_LOWER = {name.lower(): name for name in [*FAMILIES, *ALIASES]}
_NAME = re.compile(r"^([A-Za-z]+)(?:@(\d+))?$")

DEFAULT_MEASURES = "R@5 R@10 R@25 R@50 nDCG@10 RR@10"


@dataclass(frozen=True)
class Measure:
    family: Family
    cutoff: int | None

    @property
    def name(self) -> str:
        return self.family.name + (f"@{self.cutoff}" if self.cutoff is not None else "")

    @property
    def tie_order(self) -> str:
        return self.family.tie_order if self.cutoff is None else self.family.tie_order_with_cutoff

    def __str__(self) -> str:
        return self.name

    def value(self, ranked_relevance: Sequence[int], judged: Sequence[int]) -> float:
        cut = ranked_relevance if self.cutoff is None else ranked_relevance[: self.cutoff]
        return self.family.fn(cut, judged, self.cutoff)


def parse(name: str) -> Measure:
    """``"R@10"`` → Measure; one clear error for anything ir_measures would not call that."""
    match = _NAME.match(name.strip())
    family_name = _BY_LOWER.get(match.group(1).lower()) if match else None
    if family_name is None:
        known = ", ".join(f"{f}@k" if FAMILIES[f].needs_cutoff else f"{f}[@k]" for f in FAMILIES)
        raise XlcliError(f"unknown measure {name!r}: use ir_measures names such as {known}")
    family = FAMILIES[ALIASES.get(family_name, family_name)]
    cutoff = int(match.group(2)) if match.group(2) else None
    if cutoff is not None and cutoff < 1:
        raise XlcliError(f"measure {name!r}: the cutoff must be at least 1")
    if cutoff is None and family.needs_cutoff:
        raise XlcliError(f"measure {name!r} needs a cutoff, e.g. {family.name}@10")
    return Measure(family, cutoff)


def parse_many(text: str | Iterable[str]) -> list[Measure]:
    """Parse ``"R@5 R@10, nDCG@10"`` (spaces or commas), keeping order and dropping repeats."""
    parts = re.split(r"[\s,]+", text.strip()) if isinstance(text, str) else list(text)
    measures: list[Measure] = []
    for part in parts:
        if part:
            measure = parse(part)
            if measure not in measures:
                measures.append(measure)
    if not measures:
        raise XlcliError("--measures: no measure given (e.g. \"R@10 nDCG@10\")")
    return measures


def order(scores: Mapping[str, float], tie_order: str = TREC_EVAL) -> list[str]:
    """Doc ids by score descending; ties by doc id descending (trec_eval) or ascending (msmarco)."""
    if tie_order == MSMARCO:
        return sorted(scores, key=lambda d: (-scores[d], d))
    # Two stable sorts: doc id descending first, then score descending.
    return sorted(sorted(scores, reverse=True), key=lambda d: -scores[d])


def evaluate(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    measures: Sequence[Measure],
) -> dict[str, dict[str, float]]:
    """Per-query values ``{query: {measure name: value}}`` for every query that has qrels."""
    results: dict[str, dict[str, float]] = {}
    for qid, judgments in qrels.items():
        scores = run.get(qid, {})
        judged = list(judgments.values())
        rankings: dict[str, list[int]] = {}
        values: dict[str, float] = {}
        for measure in measures:
            ranked = rankings.get(measure.tie_order)
            if ranked is None:
                ranked = [judgments.get(doc, 0) for doc in order(scores, measure.tie_order)]
                rankings[measure.tie_order] = ranked
            values[measure.name] = measure.value(ranked, judged)
        results[qid] = values
    return results


def mean(
    per_query: Mapping[object, Mapping[str, float]] | Iterable[Mapping[str, float]], measures: Sequence[Measure]
) -> dict[str, float]:
    """Mean over queries (ir_measures' aggregate); 0 for every measure when there is no query.

    ``per_query`` maps each query to its values (as :func:`evaluate` returns them), or is the list
    of those values; they are summed in its order.
    """
    values = list(per_query.values()) if isinstance(per_query, Mapping) else list(per_query)
    n = len(values)
    return {m.name: (sum(v[m.name] for v in values) / n if n else 0.0) for m in measures}
