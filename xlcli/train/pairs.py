"""Training pairs (query, positive passage) from the store's ``--pairs`` sources, and the leakage guard.

The sources themselves — what each kind reads, its help and errors — are the registry of
:mod:`xlcli.train.sources`; :func:`build` gathers every requested source's pairs, guards and
deduplicates them.

**Leakage guard** (:func:`guard`): a query of an evaluation split — or a translation or
misspelled variant of one — never becomes training data, and for datasets split by scope
(LoCoMo: by conversation) neither does a passage of an evaluation scope. ``--allow-leakage``
keeps such pairs, and the run is marked so.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.train.config import TRAIN_SPLIT
from xlcli.train.sources import PAIR_SOURCES, Pair, PairSource, SourceContext

Item = TypeVar("Item")


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


def pair_keys(pair: Pair) -> dict:
    """What :meth:`Holdout.leak` checks of a training pair."""
    return {"query_id": pair.query_id, "ext_id": pair.ext_id, "scope": pair.scope, "texts": (pair.query, pair.en_query)}


def sentence_keys(sentence) -> dict:
    """What :meth:`Holdout.leak` checks of a parallel sentence: neither side may be an evaluation query."""
    return {"texts": (sentence.text, sentence.en_text)}


def guard(items: list[Item], holdout: Holdout, allow_leakage: bool,
          keys: Callable[[Item], dict] = pair_keys) -> tuple[list[Item], Counter]:
    """THE leakage guard: drop every item that would leak the evaluation split (unless allowed).

    ``keys`` says what of an item to check (:func:`pair_keys` for training pairs,
    :func:`sentence_keys` for parallel sentences). Returns the items kept and a count of leaking
    items by reason — with ``allow_leakage`` they are kept, and the count says how much the run leaks.
    """
    kept, leaks = [], Counter()
    for item in items:
        reason = holdout.leak(**keys(item))
        if reason is not None:
            leaks[reason] += 1
            if not allow_leakage:
                continue
        kept.append(item)
    return kept, leaks


@dataclass
class PairSet:
    pairs: list[Pair]
    leaks: Counter  # leaking pairs by reason (dropped, or kept under --allow-leakage)
    counts: dict[str, int]  # pairs per source and language, after the guard


def build(conn: Connection, dataset: dict, sources: tuple[PairSource, ...], *, split: str = TRAIN_SPLIT,
          allow_leakage: bool = False, holdout_: Holdout | None = None, seed: int = 0, translator=None) -> PairSet:
    """Pairs of every source, deduplicated, passed through :func:`guard`; an empty source is an error."""
    check_split(conn, dataset, split, allow_leakage)
    held = holdout_ if holdout_ is not None else holdout(conn, dataset["id"])
    pairs: list[Pair] = []
    seen: set[tuple[str, int]] = set()
    leaks: Counter = Counter()
    counts: dict[str, int] = {}
    ctx = SourceContext(conn, dataset, split, seed=seed, translator=translator)
    for source in sources:
        found = PAIR_SOURCES[source.kind].build(ctx, source)
        kept, source_leaks = guard(found, held, allow_leakage)
        leaks.update(source_leaks)
        for lang in source.langs:
            of_lang = [p for p in kept if p.lang == lang]
            if not of_lang:
                raise XlcliError(_empty_message(ctx, source, lang, sum(1 for p in found if p.lang == lang)))
            counts[f"{source.kind}:{lang}"] = counts.get(f"{source.kind}:{lang}", 0) + len(of_lang)
        for pair in kept:
            if (pair.query, pair.passage_id) not in seen:
                seen.add((pair.query, pair.passage_id))
                pairs.append(pair)
    return PairSet(pairs, leaks, counts)


def _empty_message(ctx: SourceContext, source: PairSource, lang: str, before_guard: int) -> str:
    what = f"--pairs {source.kind}{'@' + source.run if source.run else ''}:{lang}"
    if before_guard:
        return (f"{what}: all {before_guard} pairs of dataset {ctx.dataset['name']!r} would leak its evaluation split, so none is left; "
                "train on other sources, or add --allow-leakage")
    return f"{what}: {PAIR_SOURCES[source.kind].missing(ctx, source, lang)}"
