"""Evaluation runs: rank every query set with an index, measure, store, export.

One *eval run* = one index × language × condition, where the condition is ``clean`` (the queries as
ingested or translated) or a variant set from ``perturb`` (misspelled variants). Retrieval is within
the query's scope when the dataset has scopes (LoCoMo: the conversation), over all passages
otherwise. Only queries with qrels are evaluated (as in ir_measures); the count of those without is
recorded.

**Variant sets.** Every variant of a query is ranked and measured on its own (``eval_measures`` rows
with ``variant_id`` = the variant's id, rankings likewise); the query's value (``variant_id`` 0) is
the **mean over its variants**, so each query weighs the same whatever its number of variants, and
the run's value is the mean of those query values. A query the protocol could not perturb (no
variants) is left out of that condition and counted in the run's ``params_json``
(``queries_without_variants``).

A run is stored in one transaction (run row, top-``depth`` rankings, per-query values), keyed by a
hash of everything it depends on: re-running ``eval`` skips runs already stored, and a killed eval
resumes at the first missing run. Query encodings are cached per encoder within an invocation, so
indexes built with the same model (e.g. plain and QG-augmented) encode the queries once.

TREC exports (``--trec-out``) are written from the stored rankings: ``qid Q0 docno rank score tag``,
ranks from 1, higher score better, ties in trec_eval's order (see :mod:`xlcli.search`), with a
matching qrels file, so that ir_measures on the files gives the stored values.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, text

from xlcli import languages, metrics
from xlcli.errors import XlcliError
from xlcli.index import BM25, index_status, optional_bar, resolve_index
from xlcli.models import ModelSettings, resolve_model
from xlcli.search import DenseIndex, Ranking, bm25_search
from xlcli.store import Store, invocations
from xlcli.store.invocations import canonical_json, now, params_key

CLEAN = "clean"
DEFAULT_DEPTH = 100


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


@dataclass
class RunResult:
    index: str
    lang: str
    condition: str
    split: str
    queries: int
    means: dict[str, float]
    eval_run_id: int
    reused: bool
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"index": self.index, "lang": self.lang, "condition": self.condition, "split": self.split,
                "queries": self.queries, **self.means, "eval_run_id": self.eval_run_id}


# ---------------------------------------------------------------------------------------------
# Validation: everything the user typed, before any write.


@dataclass
class Plan:
    indexes: list[dict]
    dataset: dict
    split: str
    translator: str
    langs: list[str]
    variant_sets: list[dict]
    measures: list[metrics.Measure]
    depth: int


def plan(
    conn: Connection, index_names: Sequence[str], *, dataset: str | None, langs: str | None, split: str,
    variants: str, measures: str, depth: int, translator: str = "",
) -> Plan:
    if not index_names:
        raise XlcliError("--index: give at least one index name")
    rows = [dict(resolve_index(conn, name)) for name in dict.fromkeys(index_names)]
    for row in rows:
        entries, total = index_status(conn, row["id"], row["dataset_id"])
        if entries < total:
            raise XlcliError(
                f"index {row['name']!r} is not complete ({entries:,} of {total:,} passages): "
                "finish it by re-running its `xlcli index` command"
            )
    dataset_ids = {r["dataset_id"] for r in rows}
    if len(dataset_ids) > 1:
        raise XlcliError("--index: these indexes are built on different datasets; evaluate them separately")
    ds = dict(conn.execute(text("SELECT * FROM datasets WHERE id = :i"), {"i": dataset_ids.pop()}).mappings().one())
    if dataset is not None and dataset != ds["name"]:
        raise XlcliError(f"--dataset {dataset}: index {rows[0]['name']!r} was built on dataset {ds['name']!r}")

    n_qrels = conn.execute(
        text("SELECT count(*) FROM qrels r JOIN queries q ON q.id = r.query_id WHERE q.dataset_id = :d"), {"d": ds["id"]}
    ).scalar()
    if not n_qrels:
        raise XlcliError(f"dataset {ds['name']!r} has no qrels (relevance judgements), so it cannot be evaluated")

    available = dict(conn.execute(
        text("SELECT lang, count(*) FROM queries WHERE dataset_id = :d AND split = :s AND translator = :t GROUP BY lang"),
        {"d": ds["id"], "s": split, "t": translator},
    ).all())
    if not available:
        splits = [s for (s,) in conn.execute(text("SELECT DISTINCT split FROM queries WHERE dataset_id = :d ORDER BY 1"), {"d": ds["id"]})]
        who = f" translated by {translator!r}" if translator else ""
        raise XlcliError(f"--split {split}: dataset {ds['name']!r} has no queries{who} in that split (splits: {', '.join(splits) or 'none'})")
    if langs is None:
        chosen = sorted(available, key=lambda lang: (lang != ds["lang"], lang))
    else:
        chosen = languages.parse_list(langs, where="--langs")
        for lang in chosen:
            if lang not in available:
                raise XlcliError(
                    f"--langs: dataset {ds['name']!r} has no {lang} queries in split {split!r} "
                    f"(languages: {', '.join(sorted(available))}); ingest translations first"
                )

    sets = [dict(r) for r in conn.execute(
        text("SELECT id, name, key FROM variant_sets WHERE dataset_id = :d ORDER BY id"), {"d": ds["id"]}
    ).mappings()]
    names = defaultdict(int)
    for s in sets:
        names[s["name"]] += 1
    for s in sets:  # two sets with one name (e.g. two seeds) stay apart in eval_runs.condition
        s["condition"] = s["name"] if names[s["name"]] == 1 else f"{s['name']}#{s['id']}"
    if variants == "none":
        chosen_sets = []
    elif variants == "all":
        chosen_sets = sets
    else:
        chosen_sets = []
        for wanted in [v.strip() for v in variants.split(",") if v.strip()]:
            found = [s for s in sets if wanted in (s["name"], s["condition"])]
            if not found:
                known = ", ".join(s["condition"] for s in sets) or "none yet: run `xlcli perturb`"
                raise XlcliError(f"--variants {wanted}: no such variant set for dataset {ds['name']!r} (variant sets: {known}; or all, none)")
            chosen_sets.extend(s for s in found if s not in chosen_sets)
        if not chosen_sets:
            raise XlcliError("--variants: give variant set names, all, or none")

    parsed = metrics.parse_many(measures)
    if depth < 1:
        raise XlcliError(f"--depth {depth}: must be at least 1")
    deepest = max((m.cutoff for m in parsed if m.cutoff is not None), default=0)
    # A ranking holds at most the passages indexed: a deeper cutoff than that is no loss.
    largest = max(conn.execute(text("SELECT count(*) FROM index_entries WHERE index_id = :i"), {"i": r["id"]}).scalar() for r in rows)
    if depth < min(deepest, largest):
        raise XlcliError(f"--depth {depth} is below the largest cutoff ({deepest}) of --measures; raise --depth")
    return Plan(rows, ds, split, translator, chosen, chosen_sets, parsed, depth)


# ---------------------------------------------------------------------------------------------
# Query sets


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


# ---------------------------------------------------------------------------------------------
# Retrieval with query-encoding cache


class Retriever:
    """Ranks query texts with one index; dense indexes share encoders and query vectors by model."""

    def __init__(self, store: Store, device: str = "auto", batch_size: int = 64):
        self.store, self.device, self.batch_size = store, device, batch_size
        self._encoders: dict[str, object] = {}
        self._vectors: dict[str, dict[str, np.ndarray]] = {}
        self._dense: dict[int, DenseIndex] = {}

    def model_settings(self, index_row) -> ModelSettings:
        with self.store.read() as conn:
            name = conn.execute(text("SELECT name FROM models WHERE id = :i"), {"i": index_row["model_id"]}).scalar_one()
            return resolve_model(conn, name)[1]

    def query_vectors(self, settings: ModelSettings, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        key = canonical_json(settings.identity())
        cache = self._vectors.setdefault(key, {})
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            encoder = self._encoders.get(key)
            if encoder is None:
                encoder = self._encoders[key] = settings.load(self.device)
            with optional_bar(show_progress, f"Encoding queries ({settings.name})", len(missing), unit="queries") as bar:
                encoded = encoder.encode_queries(missing, batch_size=self.batch_size, on_batch=bar.advance)
            for t, v in zip(missing, encoded):
                cache[t] = v
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    def prepare(self, jobs: Sequence[tuple[dict, QuerySet]], show_progress: bool) -> None:
        """Encode every query text the dense jobs need, once per encoder, with a progress bar."""
        by_model: dict[str, tuple[ModelSettings, list[str]]] = {}
        for row, qs in jobs:
            if row["kind"] == BM25:
                continue
            settings = self.model_settings(row)
            entry = by_model.setdefault(canonical_json(settings.identity()), (settings, []))
            entry[1].extend(t for item in qs.items for _, _, t in item.texts)
        for settings, texts in by_model.values():
            self.query_vectors(settings, texts, show_progress)

    def rank(self, index_row, texts: Sequence[str], scopes: Sequence[str | None], depth: int) -> list[Ranking]:
        if index_row["kind"] == BM25:
            with self.store.read() as conn:
                return [bm25_search(conn, index_row, t, depth, s) for t, s in zip(texts, scopes)]
        dense = self._dense.get(index_row["id"])
        if dense is None:
            with self.store.read() as conn:
                dense = self._dense[index_row["id"]] = DenseIndex.load(conn, index_row)
        vectors = self.query_vectors(self.model_settings(index_row), texts)
        return dense.search(vectors, scopes, depth)


# ---------------------------------------------------------------------------------------------
# Running, storing, reading back


def run_key(index_row, dataset: dict, qs: QuerySet, p: Plan) -> tuple[str, dict]:
    params = {
        "index": index_row["name"], "index_id": index_row["id"], "dataset": dataset["name"], "lang": qs.lang,
        "split": p.split, "translator": p.translator, "condition": qs.condition, "variant_set_key": qs.variant_set_key,
        "measures": [m.name for m in p.measures], "depth": p.depth,
    }
    return params_key(params), params


def _ext_ids(conn: Connection, dataset_id: int) -> dict[int, str]:
    return dict(conn.execute(text("SELECT id, ext_id FROM passages WHERE dataset_id = :d"), {"d": dataset_id}).all())


def measure_run(qs: QuerySet, rankings: dict[tuple[int, int], Ranking], ext: dict[int, str], measures: list[metrics.Measure]):
    """Per-(query, variant) values and per-query values (the mean over a query's variants)."""
    run = {f"{qid}:{vid}": {ext[pid]: score for pid, score in ranking} for (qid, vid), ranking in rankings.items()}
    qrels = {}
    for item in qs.items:
        judged = {ext[pid]: rel for pid, rel in qs.qrels[item.query_id].items()}
        for vid, _, _ in item.texts:
            qrels[f"{item.query_id}:{vid}"] = judged
    per_key = metrics.evaluate(run, qrels, measures)
    per_variant = {(item.query_id, vid): per_key[f"{item.query_id}:{vid}"] for item in qs.items for vid, _, _ in item.texts}
    per_query = {}
    for item in qs.items:
        values = [per_variant[(item.query_id, vid)] for vid, _, _ in item.texts]
        per_query[item.query_id] = {m.name: sum(v[m.name] for v in values) / len(values) for m in measures}
    return per_variant, per_query


def _store_run(conn: Connection, key: str, params: dict, index_row, p: Plan, qs: QuerySet,
               rankings: dict[tuple[int, int], Ranking], per_variant: dict, per_query: dict, invocation_id: int) -> int:
    run_id = conn.execute(
        text("INSERT INTO eval_runs (index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth,"
             " params_json, key, created_at, invocation_id) VALUES (:i, :d, :l, :s, :c, :vs, :m, :depth, :p, :k, :t, :inv) RETURNING id"),
        {"i": index_row["id"], "d": p.dataset["id"], "l": qs.lang, "s": p.split, "c": qs.condition, "vs": qs.variant_set_id,
         "m": " ".join(m.name for m in p.measures), "depth": p.depth, "p": canonical_json(params), "k": key, "t": now(),
         "inv": invocation_id},
    ).scalar_one()
    conn.exec_driver_sql(
        "INSERT INTO eval_rankings (eval_run_id, query_id, variant_id, rank, passage_id, score) VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, qid, vid, rank, pid, score)
         for (qid, vid), ranking in rankings.items() for rank, (pid, score) in enumerate(ranking, start=1)],
    )
    rows = [(run_id, qid, 0, name, value) for qid, values in per_query.items() for name, value in values.items()]
    if qs.variant_set_id is not None:
        rows += [(run_id, qid, vid, name, value) for (qid, vid), values in per_variant.items() for name, value in values.items()]
    conn.exec_driver_sql(
        "INSERT INTO eval_measures (eval_run_id, query_id, variant_id, measure, value) VALUES (?, ?, ?, ?, ?)", rows
    )
    return run_id


def read_means(conn: Connection, run_id: int, measures: list[metrics.Measure]) -> tuple[int, dict[str, float]]:
    values: dict[str, list[float]] = defaultdict(list)
    for name, value in conn.execute(
        text("SELECT measure, value FROM eval_measures WHERE eval_run_id = :r AND variant_id = 0 ORDER BY query_id"), {"r": run_id}
    ):
        values[name].append(value)
    n = max((len(v) for v in values.values()), default=0)
    return n, {m.name: (sum(values[m.name]) / n if n else 0.0) for m in measures}


def evaluate(
    store: Store,
    index_names: Sequence[str],
    *,
    dataset: str | None = None,
    langs: str | None = None,
    split: str = "test",
    variants: str = "all",
    measures: str = metrics.DEFAULT_MEASURES,
    depth: int = DEFAULT_DEPTH,
    translator: str = "",
    trec_out: Path | None = None,
    device: str = "auto",
    batch_size: int = 64,
    show_progress: bool = True,
) -> list[RunResult]:
    """Evaluate each index on every chosen query set; return one result per (index, lang, condition)."""
    with store.read() as conn:
        p = plan(conn, index_names, dataset=dataset, langs=langs, split=split, variants=variants,
                 measures=measures, depth=depth, translator=translator)
        sets = query_sets(conn, p)
        ext = _ext_ids(conn, p.dataset["id"])
    if trec_out is not None:
        _check_trec_dir(trec_out)
    params = {"indexes": [r["name"] for r in p.indexes], "dataset": p.dataset["name"], "langs": p.langs, "split": split,
              "translator": translator, "variant_sets": [s["condition"] for s in p.variant_sets],
              "measures": [m.name for m in p.measures], "depth": depth}
    retriever = Retriever(store, device=device, batch_size=batch_size)
    results: list[RunResult] = []
    with invocations.step(store, "eval", params) as inv:
        jobs = []
        with store.read() as conn:
            for row in p.indexes:
                for qs in sets:
                    key, run_params = run_key(row, p.dataset, qs, p)
                    existing = conn.execute(text("SELECT id FROM eval_runs WHERE key = :k"), {"k": key}).scalar()
                    jobs.append((row, qs, key, run_params, existing))
        retriever.prepare([(row, qs) for row, qs, _, _, existing in jobs if existing is None], show_progress)
        with optional_bar(show_progress, "Evaluating", len(jobs), unit="runs") as bar:
            for row, qs, key, run_params, existing in jobs:
                reused = existing is not None
                if not reused:
                    existing = _compute_and_store(store, retriever, row, p, qs, ext, key, run_params, inv.id)
                with store.read() as conn:
                    stored = json.loads(conn.execute(text("SELECT params_json FROM eval_runs WHERE id = :i"), {"i": existing}).scalar_one())
                    n, means = read_means(conn, existing, p.measures)
                results.append(RunResult(row["name"], qs.lang, qs.condition, split, n, means, existing, reused, stored))
                bar.advance(1, info=f"{row['name']} {qs.lang} {qs.condition}")
        inv.summary = {"runs": len(results), "reused": sum(r.reused for r in results)}
    if trec_out is not None:
        with store.read() as conn:
            for result in results:
                write_trec(conn, result.eval_run_id, trec_out)
    return results


def _compute_and_store(store: Store, retriever: Retriever, row, p: Plan, qs: QuerySet, ext: dict[int, str],
                       key: str, run_params: dict, invocation_id: int) -> int:
    flat = [(item, vid, t) for item in qs.items for vid, _, t in item.texts]
    ranked = retriever.rank(row, [t for _, _, t in flat], [item.scope for item, _, _ in flat], p.depth)
    rankings = {(item.query_id, vid): r for (item, vid, _), r in zip(flat, ranked)}
    per_variant, per_query = measure_run(qs, rankings, ext, p.measures)
    run_params = {**run_params, "queries": len(qs.items), "queries_without_qrels": qs.without_qrels,
                  "queries_without_variants": qs.without_variants, "retrieval": "within scope" if any(i.scope for i in qs.items) else "all passages",
                  "variant_aggregation": "mean over variants" if qs.variant_set_id is not None else None}
    with store.write() as conn:
        return _store_run(conn, key, run_params, row, p, qs, rankings, per_variant, per_query, invocation_id)


# ---------------------------------------------------------------------------------------------
# TREC export


def _check_trec_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise XlcliError(f"--trec-out {path}: is a file, expected a directory")
    if not path.exists() and not path.parent.exists():
        raise XlcliError(f"--trec-out {path}: its parent directory {path.parent} does not exist")
    try:  # made now, before any run is stored, so that a folder that cannot be written is refused first
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise XlcliError(f"--trec-out {path}: cannot create it ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise XlcliError(f"--trec-out {path}: the directory is not writable")


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)


def write_trec(conn: Connection, run_id: int, directory: Path) -> tuple[Path, Path]:
    """Write ``<index>.<lang>.<condition>.run`` and its ``.qrels`` from a stored eval run."""
    run = conn.execute(
        text("SELECT r.*, i.name AS index_name FROM eval_runs r JOIN indexes i ON i.id = r.index_id WHERE r.id = :r"), {"r": run_id}
    ).mappings().one()
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{_safe(run['index_name'])}.{run['lang']}.{_safe(run['condition'])}"
    variant_idx = dict(conn.execute(
        text("SELECT v.id, v.idx FROM query_variants v WHERE v.variant_set_id = :vs"), {"vs": run["variant_set_id"]}
    ).all()) if run["variant_set_id"] is not None else {}

    def qid(ext_id: str, variant_id: int) -> str:
        return ext_id if variant_id == 0 else f"{ext_id}#{variant_idx[variant_id]}"

    run_lines = []
    for q_ext, vid, rank, d_ext, score in conn.execute(text(
        "SELECT q.ext_id, r.variant_id, r.rank, p.ext_id, r.score FROM eval_rankings r"
        " JOIN queries q ON q.id = r.query_id JOIN passages p ON p.id = r.passage_id"
        " WHERE r.eval_run_id = :r ORDER BY r.query_id, r.variant_id, r.rank"), {"r": run_id}):
        _no_space(q_ext, d_ext)
        # repr() round-trips a float exactly: the file keeps ties as ties and order as order.
        run_lines.append(f"{qid(q_ext, vid)} Q0 {d_ext} {rank} {float(score)!r} {run['index_name']}\n")
    qrel_lines = []
    for q_ext, vid, d_ext, rel in conn.execute(text(
        "SELECT q.ext_id, m.variant_id, p.ext_id, j.relevance FROM"
        " (SELECT DISTINCT query_id, variant_id FROM eval_measures WHERE eval_run_id = :r AND (variant_id > 0 OR :clean)) m"
        " JOIN queries q ON q.id = m.query_id JOIN qrels j ON j.query_id = m.query_id JOIN passages p ON p.id = j.passage_id"
        " ORDER BY m.query_id, m.variant_id, p.ext_id"), {"r": run_id, "clean": run["variant_set_id"] is None}):
        _no_space(q_ext, d_ext)
        qrel_lines.append(f"{qid(q_ext, vid)} 0 {d_ext} {rel}\n")
    run_path, qrels_path = directory / f"{stem}.run", directory / f"{stem}.qrels"
    run_path.write_text("".join(run_lines), encoding="utf-8")
    qrels_path.write_text("".join(qrel_lines), encoding="utf-8")
    return run_path, qrels_path


def _no_space(*ids: str) -> None:
    for value in ids:
        if any(c.isspace() for c in value):
            raise XlcliError(f"--trec-out: id {value!r} contains whitespace, which the TREC format cannot hold")
