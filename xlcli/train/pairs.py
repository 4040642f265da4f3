"""Training pairs (query, positive passage) from the store, and the leakage guard.

Sources (``--pairs``):

- ``queries:en,es`` — ingested queries of the training split in those languages (originals and
  human translations), each paired with every passage its qrels judge relevant;
- ``generated[@RUN]:es,de`` — queries that ``xlcli generate`` wrote for passages (cross-lingual
  query generation, Zhuang, Shou & Zuccon, SIGIR 2023), each paired with its passage.

Every pair carries a *group* (the query's ext id, or the passage a generated query was written
for): pairs of one group are never used as each other's in-batch negatives, and neither is any
passage judged relevant to a pair's query.

**Leakage guard** (:func:`guard`): a query of an evaluation split — or a translation or
misspelled variant of one — never becomes training data, and for datasets split by scope
(LoCoMo: by conversation) neither does a passage of an evaluation scope. ``--allow-leakage``
keeps such pairs, and the run is marked so.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from xlcli import languages
from xlcli.errors import XlcliError
from xlcli.train.config import TRAIN_SPLIT, PairSource
from xlcli.train.parallel import ParallelSentence


@dataclass(frozen=True)
class Pair:
    query: str
    lang: str
    positive: str  # passage text
    passage_id: int
    group: str
    source: str  # the --pairs source it came from, e.g. "queries:es"
    positives: frozenset[int] = frozenset()  # every passage relevant to the query (never a negative)
    scope: str | None = None
    query_id: int | None = None  # queries.id (None for generated queries)
    ext_id: str | None = None  # queries.ext_id, shared by a query and its translations
    en_query: str | None = None  # the English original of a translated query (or a lexicon query's English terms)


def normalise_text(value: str) -> str:
    """Case-, accent-form- and whitespace-insensitive form used to compare query texts."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


@dataclass
class Holdout:
    """What belongs to the evaluation splits of a dataset and must not be trained on."""

    splits: list[str]
    query_ids: set[int] = field(default_factory=set)
    ext_ids: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)  # queries, translations and variants, normalised

    def leak(self, *, query_id: int | None = None, ext_id: str | None = None, scope: str | None = None,
             texts: tuple[str | None, ...] = ()) -> str | None:
        """Why an item would leak the evaluation split into training, or None."""
        if (query_id is not None and query_id in self.query_ids) or (ext_id is not None and ext_id in self.ext_ids):
            return "query of an evaluation split (or a translation of one)"
        if scope is not None and scope in self.scopes:
            return "passage of an evaluation scope"
        if any(t is not None and normalise_text(t) in self.texts for t in texts):
            return "text equal to an evaluation query, translation or variant"
        return None


def holdout(conn: Connection, dataset_id: int, train_split: str = TRAIN_SPLIT) -> Holdout:
    """Everything of ``dataset_id`` outside ``train_split``: queries, translations, variants, scopes."""
    rows = conn.execute(
        text(
            "SELECT q.id, q.ext_id, q.split, q.scope, q.text, s.split AS source_split FROM queries q"
            " LEFT JOIN queries s ON s.id = q.source_query_id WHERE q.dataset_id = :d"
        ),
        {"d": dataset_id},
    ).all()
    result = Holdout(sorted({r.split for r in rows if r.split != train_split}))
    eval_scopes, train_scopes = set(), set()
    for r in rows:
        if r.split != train_split or (r.source_split is not None and r.source_split != train_split):
            result.query_ids.add(r.id)
            result.ext_ids.add(r.ext_id)
            result.texts.add(normalise_text(r.text))
            eval_scopes.add(r.scope)
        else:
            train_scopes.add(r.scope)
    # A dataset split by scope (LoCoMo: by conversation) holds out the evaluation scopes' passages
    # too; where training and evaluation queries share scopes, scopes say nothing about the split.
    if not eval_scopes & train_scopes:
        result.scopes = {s for s in eval_scopes if s is not None}
    if result.query_ids:
        variants = conn.execute(
            text("SELECT v.query_id, v.text FROM query_variants v JOIN queries q ON q.id = v.query_id WHERE q.dataset_id = :d"),
            {"d": dataset_id},
        ).all()
        result.texts.update(normalise_text(v.text) for v in variants if v.query_id in result.query_ids)
    return result


def check_split(conn: Connection, dataset: dict, split: str, allow_leakage: bool) -> None:
    """Refuse to train on an evaluation split (any split but 'train') unless leakage is allowed."""
    splits = [s for (s,) in conn.execute(
        text("SELECT DISTINCT split FROM queries WHERE dataset_id = :d ORDER BY split"), {"d": dataset["id"]}
    )]
    if split not in splits:
        raise XlcliError(f"--split {split}: dataset {dataset['name']!r} has no such split (it has: {', '.join(splits) or 'no queries'})")
    if split != TRAIN_SPLIT and not allow_leakage:
        raise XlcliError(
            f"--split {split}: that is an evaluation split of dataset {dataset['name']!r}; training on it leaks its "
            "queries into the model. Train on --split train, or add --allow-leakage (the run is then marked as leaky)"
        )


def guard(pairs: list[Pair], holdout: Holdout, allow_leakage: bool) -> tuple[list[Pair], Counter]:
    """THE leakage guard: drop every pair that would leak the evaluation split (unless allowed).

    Returns the pairs kept and a count of leaking pairs by reason — with ``allow_leakage`` they
    are kept, and the count says how much the run leaks.
    """
    kept, leaks = [], Counter()
    for pair in pairs:
        reason = holdout.leak(
            query_id=pair.query_id, ext_id=pair.ext_id, scope=pair.scope, texts=(pair.query, pair.en_query)
        )
        if reason is not None:
            leaks[reason] += 1
            if not allow_leakage:
                continue
        kept.append(pair)
    return kept, leaks


def guard_parallel(sentences: list[ParallelSentence], holdout: Holdout, allow_leakage: bool) -> tuple[list[ParallelSentence], Counter]:
    """The same guard for parallel sentences: none may be an evaluation query or its translation."""
    kept, leaks = [], Counter()
    for sentence in sentences:
        reason = holdout.leak(texts=(sentence.text, sentence.en_text))
        if reason is not None:
            leaks[reason] += 1
            if not allow_leakage:
                continue
        kept.append(sentence)
    return kept, leaks


def _query_pairs(conn: Connection, dataset_id: int, source: PairSource, split: str) -> list[Pair]:
    rows = conn.execute(
        text(
            "SELECT q.id, q.ext_id, q.lang, q.text, q.scope, src.text AS en_text, src.lang AS src_lang,"
            " p.id AS passage_id, p.text AS passage, p.scope AS passage_scope"
            " FROM queries q JOIN qrels r ON r.query_id = q.id JOIN passages p ON p.id = r.passage_id"
            " LEFT JOIN queries src ON src.id = q.source_query_id"
            " WHERE q.dataset_id = :d AND q.split = :s AND q.translator = '' AND r.relevance > 0"
            f" AND q.lang IN ({','.join(f':l{i}' for i in range(len(source.langs)))})"
            " ORDER BY q.id, p.id"
        ),
        {"d": dataset_id, "s": split, **{f"l{i}": lang for i, lang in enumerate(source.langs)}},
    ).all()
    relevant: dict[int, set[int]] = {}
    for r in rows:
        relevant.setdefault(r.id, set()).add(r.passage_id)
    return [
        Pair(
            query=r.text, lang=r.lang, positive=r.passage, passage_id=r.passage_id, group=f"q:{r.ext_id}",
            source=f"queries:{r.lang}", positives=frozenset(relevant[r.id]), scope=r.passage_scope or r.scope,
            query_id=r.id, ext_id=r.ext_id, en_query=r.en_text if r.src_lang == "en" else None,
        )
        for r in rows
    ]


def _generated_pairs(conn: Connection, dataset_id: int, source: PairSource) -> list[Pair]:
    params = {"d": dataset_id, **{f"l{i}": lang for i, lang in enumerate(source.langs)}}
    run_filter = ""
    if source.run is not None:
        run = conn.execute(text("SELECT id, dataset_id FROM generator_runs WHERE name = :n"), {"n": source.run}).first()
        if run is None or run.dataset_id != dataset_id:
            raise XlcliError(f"--pairs {source.spec}: no generator run {source.run!r} for this dataset (see `xlcli generate`)")
        run_filter, params["r"] = " AND g.generator_run_id = :r", run.id
    rows = conn.execute(
        text(
            "SELECT g.lang, g.text, g.passage_id, g.metadata_json, p.text AS passage, p.scope, p.ext_id AS passage_ext"
            " FROM generated_queries g JOIN generator_runs gr ON gr.id = g.generator_run_id"
            " JOIN passages p ON p.id = g.passage_id"
            f" WHERE gr.dataset_id = :d{run_filter}"
            f" AND g.lang IN ({','.join(f':l{i}' for i in range(len(source.langs)))})"
            " ORDER BY g.passage_id, g.lang, gr.id, g.idx"
        ),
        params,
    ).all()
    return [
        Pair(
            query=r.text, lang=r.lang, positive=r.passage, passage_id=r.passage_id, group=f"p:{r.passage_id}",
            source=f"generated:{r.lang}", positives=frozenset({r.passage_id}), scope=r.scope,
            en_query=_english_terms(r.metadata_json) if r.lang != "en" else None,
        )
        for r in rows
    ]


def _english_terms(metadata_json: str | None) -> str | None:
    """The English words a lexicon pseudo-query was translated from (its parallel English side)."""
    terms = json.loads(metadata_json or "{}").get("terms")
    return " ".join(terms) if isinstance(terms, list) and terms and all(isinstance(t, str) for t in terms) else None


@dataclass
class PairSet:
    pairs: list[Pair]
    leaks: Counter  # leaking pairs by reason (dropped, or kept under --allow-leakage)
    counts: dict[str, int]  # pairs per source and language, after the guard


def build(conn: Connection, dataset: dict, sources: tuple[PairSource, ...], *, split: str = TRAIN_SPLIT,
          allow_leakage: bool = False, holdout_: Holdout | None = None) -> PairSet:
    """Pairs of every source, deduplicated, passed through :func:`guard`; an empty source is an error."""
    check_split(conn, dataset, split, allow_leakage)
    held = holdout_ if holdout_ is not None else holdout(conn, dataset["id"])
    pairs: list[Pair] = []
    seen: set[tuple[str, int]] = set()
    leaks: Counter = Counter()
    counts: dict[str, int] = {}
    for source in sources:
        found = _query_pairs(conn, dataset["id"], source, split) if source.kind == "queries" else _generated_pairs(conn, dataset["id"], source)
        kept, source_leaks = guard(found, held, allow_leakage)
        leaks.update(source_leaks)
        for lang in source.langs:
            of_lang = [p for p in kept if p.lang == lang]
            if not of_lang:
                raise XlcliError(_empty_message(dataset["name"], source, lang, split, sum(1 for p in found if p.lang == lang)))
            counts[f"{source.kind}:{lang}"] = counts.get(f"{source.kind}:{lang}", 0) + len(of_lang)
        for pair in kept:
            if (pair.query, pair.passage_id) not in seen:
                seen.add((pair.query, pair.passage_id))
                pairs.append(pair)
    return PairSet(pairs, leaks, counts)


def _empty_message(dataset: str, source: PairSource, lang: str, split: str, before_guard: int) -> str:
    what = f"--pairs {source.kind}{'@' + source.run if source.run else ''}:{lang}"
    if before_guard:
        return (f"{what}: all {before_guard} pairs of dataset {dataset!r} would leak its evaluation split, so none is left; "
                "train on other sources, or add --allow-leakage")
    if source.kind == "queries":
        return (f"{what}: dataset {dataset!r} has no {languages.name(lang)} queries with relevant passages in split {split!r} "
                f"(ingest translations with `xlcli ingest translations`, or drop {lang} from --pairs)")
    return (f"{what}: dataset {dataset!r} has no generated {languages.name(lang)} queries"
            f" (run `xlcli generate --langs {lang}` first, or drop {lang} from --pairs)")


def summary(pair_set: PairSet) -> dict:
    return {"pairs": len(pair_set.pairs), "by_source": pair_set.counts, "leaks": dict(pair_set.leaks)}
