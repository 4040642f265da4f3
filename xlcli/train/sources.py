"""The training-pair sources of ``--pairs KIND[@NAME]:LANGS``: one registry entry per kind.

:data:`PAIR_SOURCES` maps each kind to a :class:`PairSourceKind` — how its pairs are read from the
store, what its languages mean, what its help says and what the error says when a language has
none. :func:`parse_pair_sources` (the only parser of ``--pairs``), :func:`xlcli.train.pairs.build`
(the dispatch) and :func:`pairs_help` (the ``--pairs`` help) read the registry, so a new source
is one entry here and nothing else.

Kinds:

- ``queries:en,es`` — ingested queries of the training split in those languages (originals and
  human translations), each paired with every passage its qrels judge relevant;
- ``generated[@RUN]:es,de`` — queries that ``xlcli generate`` wrote for passages (cross-lingual
  query generation, Zhuang, Shou & Zuccon, SIGIR 2023), each paired with its passage;
- ``translated:es,de`` — translate-train: the training split's English questions translated word
  by word with the ``--lexicon`` dictionaries (:mod:`xlcli.train.translate`), each paired with the
  English question's relevant passages. ``xlcli train`` stores them as ``queries`` rows
  (translator ``lexicon:<sha>``, ``source_query_id`` = the English question) when it starts.

A source may end with a mixing weight, ``queries:es,de,fr,ru@1`` (:mod:`xlcli.train.mixing`):
with weights, batches are drawn by the given proportions instead of by the sources' sizes.

Every pair carries a *group* (the query's ext id, or the passage a generated query was written
for): pairs of one group are never used as each other's in-batch negatives, and neither is any
passage judged relevant to a pair's query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, text

from xlcli import languages
from xlcli.errors import XlcliError


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


@dataclass(frozen=True)
class PairSource:
    """One parsed ``--pairs`` source: ``queries:en,es`` or ``generated@RUN:es,de``."""

    kind: str  # a key of PAIR_SOURCES
    langs: tuple[str, ...]
    run: str | None = None  # the NAME of KIND@NAME (a generator run); None = every one
    weight: float | None = None  # mixing weight (``...:LANGS@W``); None = TrainConfig's default

    @property
    def spec(self) -> str:
        run = f"@{self.run}" if self.run else ""
        weight = f"@{self.weight:g}" if self.weight is not None else ""
        return f"{self.kind}{run}:{','.join(self.langs)}{weight}"


@dataclass(frozen=True)
class SourceContext:
    """What a source's builder may read: the store, the dataset trained on, the training split,
    the run's seed and its word translator (``--lexicon``; None without one)."""

    conn: Connection
    dataset: dict  # the datasets row (id, name, kind, ...)
    split: str
    seed: int = 0
    translator: object = None  # a xlcli.train.translate.WordTranslator


@dataclass(frozen=True)
class PairSourceKind:
    """One kind of ``--pairs`` source.

    ``build(ctx, source)`` returns the source's pairs in ``source.langs`` — before the leakage
    guard, in a deterministic order, each with ``Pair.source`` set to ``f"{kind}:{lang}"``; it may
    raise :class:`XlcliError` for a bad ``source.run``. ``missing(ctx, source, lang)`` is the
    error text (after ``--pairs KIND:LANG: ``) when the store holds no pair of ``lang`` at all: it
    should say how to make some. ``run`` is what ``KIND@NAME`` names, or None when the kind takes
    no ``@NAME`` (refused when given).
    """

    name: str
    help: str  # what the pairs are, for `xlcli train --help`
    langs: str  # what LANGS means for this kind, for the help
    build: Callable[[SourceContext, PairSource], list[Pair]]
    missing: Callable[[SourceContext, PairSource, str], str]
    example: str  # languages for the examples in help and errors, e.g. "en,es"
    run: str | None = None  # e.g. "one generator run"


# --------------------------------------------------------------------------- the builders


def _in_langs(langs: tuple[str, ...]) -> tuple[str, dict]:
    """``IN (:l0, :l1, ...)`` and its parameters."""
    return f"IN ({','.join(f':l{i}' for i in range(len(langs)))})", {f"l{i}": lang for i, lang in enumerate(langs)}


def _query_pairs(ctx: SourceContext, source: PairSource) -> list[Pair]:
    in_langs, lang_params = _in_langs(source.langs)
    rows = ctx.conn.execute(
        text(
            "SELECT q.id, q.ext_id, q.lang, q.text, q.scope, src.text AS en_text, src.lang AS src_lang,"
            " p.id AS passage_id, p.text AS passage, p.scope AS passage_scope"
            " FROM queries q JOIN qrels r ON r.query_id = q.id JOIN passages p ON p.id = r.passage_id"
            " LEFT JOIN queries src ON src.id = q.source_query_id"
            " WHERE q.dataset_id = :d AND q.split = :s AND q.translator = '' AND r.relevance > 0"
            f" AND q.lang {in_langs}"
            " ORDER BY q.id, p.id"
        ),
        {"d": ctx.dataset["id"], "s": ctx.split, **lang_params},
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


def _generated_pairs(ctx: SourceContext, source: PairSource) -> list[Pair]:
    dataset_id = ctx.dataset["id"]
    in_langs, lang_params = _in_langs(source.langs)
    params = {"d": dataset_id, **lang_params}
    run_filter = ""
    if source.run is not None:
        run = ctx.conn.execute(text("SELECT id, dataset_id FROM generator_runs WHERE name = :n"), {"n": source.run}).first()
        if run is None or run.dataset_id != dataset_id:
            raise XlcliError(f"--pairs {source.spec}: no generator run {source.run!r} for this dataset (see `xlcli generate`)")
        run_filter, params["r"] = " AND g.generator_run_id = :r", run.id
    rows = ctx.conn.execute(
        text(
            "SELECT g.lang, g.text, g.passage_id, g.metadata_json, p.text AS passage, p.scope, p.ext_id AS passage_ext"
            " FROM generated_queries g JOIN generator_runs gr ON gr.id = g.generator_run_id"
            " JOIN passages p ON p.id = g.passage_id"
            f" WHERE gr.dataset_id = :d{run_filter}"
            f" AND g.lang {in_langs}"
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


def _translated_pairs(ctx: SourceContext, source: PairSource) -> list[Pair]:
    from xlcli.train.translate import check_languages

    check_languages(ctx.translator.langs if ctx.translator is not None else (), source.langs, f"--pairs {source.spec}")
    english = _query_pairs(ctx, PairSource("queries", ("en",)))
    found = []
    for lang in source.langs:
        translated: dict[str, str] = {}
        for pair in english:
            if pair.query not in translated:
                translated[pair.query] = ctx.translator.translate(pair.query, lang)
            if translated[pair.query] == pair.query:  # no word the dictionary knows: not a translation
                continue
            found.append(replace(pair, query=translated[pair.query], lang=lang, source=f"translated:{lang}", query_id=None,
                                 en_query=pair.query))
    return found


def _english_terms(metadata_json: str | None) -> str | None:
    """The English words a lexicon pseudo-query was translated from (its parallel English side)."""
    terms = json.loads(metadata_json or "{}").get("terms")
    return " ".join(terms) if isinstance(terms, list) and terms and all(isinstance(t, str) for t in terms) else None


# --------------------------------------------------------------------------- the registry


PAIR_SOURCES: dict[str, PairSourceKind] = {k.name: k for k in (
    PairSourceKind(
        "queries", "ingested queries (originals and human translations) with the passages their qrels judge relevant",
        "the queries' languages", _query_pairs,
        lambda ctx, source, lang: (
            f"dataset {ctx.dataset['name']!r} has no {languages.name(lang)} queries with relevant passages in split {ctx.split!r} "
            f"(ingest translations with `xlcli ingest translations`, or drop {lang} from --pairs)"),
        example="en,es",
    ),
    PairSourceKind(
        "generated", "queries `xlcli generate` wrote for passages, each with its passage",
        "the generated queries' languages", _generated_pairs,
        lambda ctx, source, lang: (
            f"dataset {ctx.dataset['name']!r} has no generated {languages.name(lang)} queries"
            f" (run `xlcli generate --langs {lang}` first, or drop {lang} from --pairs)"),
        example="es,de", run="one generator run",
    ),
    PairSourceKind(
        "translated", "the training split's English questions translated word by word with the --lexicon dictionaries (translate-train)",
        "the target languages, each needs --lexicon LANG=PATH", _translated_pairs,
        lambda ctx, source, lang: (
            f"no English question of dataset {ctx.dataset['name']!r} (split {ctx.split!r}) has a word the {lang} lexicon translates"
            " (check the --lexicon file, or drop it from --pairs)"),
        example="es,de",
    ),
)}


def pairs_help() -> str:
    """The ``--pairs`` help, one clause per registered kind."""
    kinds = "; ".join(
        f"{k.name}:LANGS — {k.help} (LANGS: {k.langs}{f'; {k.name}@RUN:LANGS for {k.run} only' if k.run else ''})"
        for k in PAIR_SOURCES.values()
    )
    return f"Pair sources, comma-separated, e.g. {','.join(_examples())}. {kinds}."


def _examples() -> list[str]:
    return [f"{k.name}:{k.example}" for k in PAIR_SOURCES.values()]


# --------------------------------------------------------------------------- parsing


def parse_pair_sources(value: str) -> tuple[PairSource, ...]:
    """Parse ``queries:en,es,generated:es,de`` (``|``, ``;`` or spaces also separate sources).

    A token with a colon opens a source (``KIND[@NAME]:LANG``); bare tokens after it are more
    languages of that source. A language may end with ``@W``, a positive mixing weight, which
    closes its source (``queries:en@1,queries:es,de@1``). Unweighted sources of one kind and name
    are merged, languages deduplicated; one language in two sources of a kind is refused.
    """
    kinds = list(PAIR_SOURCES)
    tokens = [t.strip() for t in re.split(r"[,|;\s]+", value or "") if t.strip()]
    if not tokens:
        raise XlcliError(f"--pairs: give at least one source, e.g. {' or '.join(_examples())}")
    sources: list[list] = []  # [kind, langs, run, weight]
    for token in tokens:
        if ":" in token:
            head, lang = token.split(":", 1)
            kind, _, run = head.partition("@")
            if kind not in PAIR_SOURCES:
                raise XlcliError(f"--pairs {token}: unknown source {kind!r} (use {' or '.join(kinds)}, e.g. {_examples()[0]})")
            if run and PAIR_SOURCES[kind].run is None:
                named = [k for k in kinds if PAIR_SOURCES[k].run is not None]
                raise XlcliError(f"--pairs {token}: only {' and '.join(named)} sources name a run ({named[0]}@RUN:es)")
            sources.append([kind, [], run or None, None])
            token = lang
            if not token:
                continue
        if not sources:
            raise XlcliError(f"--pairs {value}: start with a source, e.g. {kinds[0]}:{token}")
        if sources[-1][3] is not None:
            raise XlcliError(f"--pairs {token}: a weight (@W) ends its source; start a new one, e.g. {sources[-1][0]}:{token}")
        token, at, weight = token.partition("@")
        if at:
            sources[-1][3] = _weight(weight, sources[-1][0])
        code = languages.check(token, where=f"--pairs {sources[-1][0]}")
        if code not in sources[-1][1]:
            sources[-1][1].append(code)
    merged: dict[tuple, list[str]] = {}
    for kind, langs, run, weight in sources:
        if not langs:
            raise XlcliError(f"--pairs {kind}: give its languages, e.g. {kind}:en,es")
        key = (kind, run, weight, len(merged) if weight is not None else -1)  # weighted sources stay apart
        merged.setdefault(key, [])
        merged[key] += [l for l in langs if l not in merged[key]]
    # Mixing weights are per (kind, language) stratum, so with weights a language is in one source of a kind.
    weighted = any(weight is not None for _, _, _, weight in sources)
    seen: set[tuple] = set()
    for (kind, run, _w, _), langs in merged.items():
        for lang in langs:
            key = (kind, lang) if weighted else (kind, run, lang)
            if key in seen:
                raise XlcliError(f"--pairs {kind}:{lang}: that language is in two {kind} sources; give it once")
            seen.add(key)
    return tuple(PairSource(kind, tuple(langs), run, weight) for (kind, run, weight, _), langs in merged.items())


def _weight(value: str, kind: str) -> float:
    try:
        weight = float(value)
    except ValueError:
        weight = float("nan")
    if not weight > 0 or weight == float("inf"):
        raise XlcliError(f"--pairs {kind}:...@{value}: give a mixing weight > 0, e.g. {kind}:es,de@0.5")
    return weight
