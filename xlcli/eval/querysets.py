"""Query sets: the clean queries of each language and their misspelled variant sets, with qrels.

A query set is one language × condition: ``clean`` (the queries as ingested or translated) or a
variant set from ``perturb``. Only queries with qrels are kept (as in ir_measures); the count of
those without is carried along to be recorded. In a variant set every query holds all its
variants; a query the protocol could not perturb (no variants) is left out of that set and
counted (``without_variants``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError

if TYPE_CHECKING:  # plan imports the rewrite checks, which build query sets
    from xlcli.eval.plan import Plan

CLEAN = "clean"


@dataclass
class QueryItem:
    query_id: int
    ext_id: str
    scope: str | None
    texts: list[tuple[int, int, str]]  # (variant id (0 = clean), variant idx, text)


@dataclass
class QuerySet:
    lang: str
    condition: str
    variant_set_id: int | None
    variant_set_key: str | None
    items: list[QueryItem]
    qrels: dict[int, dict[int, int]]  # query id -> passage id -> relevance
    without_qrels: int
    without_variants: int = 0


def _queries(conn: Connection, dataset_id: int, lang: str, split: str, translator: str) -> tuple[list[dict], dict, int]:
    rows = [dict(r) for r in conn.execute(
        text("SELECT id, ext_id, scope, text FROM queries WHERE dataset_id = :d AND lang = :l AND split = :s AND translator = :t ORDER BY id"),
        {"d": dataset_id, "l": lang, "s": split, "t": translator},
    ).mappings()]
    qrels: dict[int, dict[int, int]] = defaultdict(dict)
    for qid, pid, rel in conn.execute(
        text("SELECT r.query_id, r.passage_id, r.relevance FROM qrels r JOIN queries q ON q.id = r.query_id"
             " WHERE q.dataset_id = :d AND q.lang = :l AND q.split = :s AND q.translator = :t"),
        {"d": dataset_id, "l": lang, "s": split, "t": translator},
    ):
        qrels[qid][pid] = rel
    with_qrels = [r for r in rows if r["id"] in qrels]
    return with_qrels, dict(qrels), len(rows) - len(with_qrels)


def query_sets(conn: Connection, p: Plan) -> list[QuerySet]:
    """For each language of the plan: its clean set, then one set per chosen variant set that has variants."""
    sets: list[QuerySet] = []
    for lang in p.langs:
        rows, qrels, without = _queries(conn, p.dataset["id"], lang, p.split, p.translator)
        items = [QueryItem(r["id"], r["ext_id"], r["scope"], [(0, 0, r["text"])]) for r in rows]
        sets.append(QuerySet(lang, CLEAN, None, None, items, qrels, without))
        for vs in p.variant_sets:
            by_query: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
            for vid, qid, idx, vtext in conn.execute(
                text("SELECT v.id, v.query_id, v.idx, v.text FROM query_variants v JOIN queries q ON q.id = v.query_id"
                     " WHERE v.variant_set_id = :vs AND q.lang = :l AND q.split = :s AND q.translator = :t ORDER BY v.query_id, v.idx"),
                {"vs": vs["id"], "l": lang, "s": p.split, "t": p.translator},
            ):
                by_query[qid].append((vid, idx, vtext))
            if not by_query:
                continue  # this set has no variants in this language
            v_items = [QueryItem(r["id"], r["ext_id"], r["scope"], by_query[r["id"]]) for r in rows if r["id"] in by_query]
            sets.append(QuerySet(lang, vs["condition"], vs["id"], vs["key"], v_items, qrels, without,
                                 without_variants=len(rows) - len(v_items)))
    if p.variant_sets and not any(s.variant_set_id is not None for s in sets):
        raise XlcliError(f"--variants: the chosen variant sets have no variants of {', '.join(p.langs)} queries in split {p.split!r}")
    return sets
