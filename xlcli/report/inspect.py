"""``inspect``: everything the store knows about one query, for error analysis.

Its text and translations, its misspelled variants (edit operations, Levenshtein and Damerau
distances), their rewrites when the store has ``query_rewrites``, its relevant passages, and for
every system the rank of each relevant passage and the top-k with scores, clean and per variant —
read straight from ``eval_rankings`` / ``eval_measures``, so the numbers are the stored ones.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.report import system_runs
from xlcli.store.catalog import resolve_dataset


def _query_row(conn: Connection, dataset: dict, ext_id: str, lang: str | None) -> dict:
    rows = [dict(r) for r in conn.execute(text(
        "SELECT id, ext_id, lang, split, scope, text, translator, source_query_id, metadata_json FROM queries"
        " WHERE dataset_id = :d AND ext_id = :e ORDER BY source_query_id IS NOT NULL, translator != '', id"),
        {"d": dataset["id"], "e": ext_id}).mappings()]
    if not rows:
        raise XlcliError(f"no query {ext_id!r} in dataset {dataset['name']!r}")
    if lang is None:
        return rows[0]
    for row in rows:
        if row["lang"] == lang:
            return row
    raise XlcliError(f"query {ext_id!r} has no {lang} version (languages: {', '.join(sorted({r['lang'] for r in rows}))})")


def _relevant(conn: Connection, query_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT p.id AS passage_id, p.ext_id, r.relevance, p.title, p.text FROM qrels r JOIN passages p ON p.id = r.passage_id"
        " WHERE r.query_id = :q ORDER BY r.relevance DESC, p.ext_id"), {"q": query_id}).mappings()]


def _rewrites(conn: Connection, query_id: int) -> dict[int, list[dict]]:
    """{variant id (0 = the clean query): its rewrites}; empty when the store has no rewrite step."""
    if not system_runs.has_table(conn, "query_rewrites"):
        return {}
    named = system_runs.has_table(conn, "rewrite_runs")
    by_variant: dict[int, list[dict]] = defaultdict(list)
    for row in conn.execute(text(
        "SELECT w.rewrite_run_id, w.variant_id, w.text, w.operations_json" + (", r.name AS rewrite_run" if named else "")
        + " FROM query_rewrites w" + (" LEFT JOIN rewrite_runs r ON r.id = w.rewrite_run_id" if named else "")
        + " WHERE w.query_id = :q ORDER BY w.rewrite_run_id, w.variant_id"), {"q": query_id}).mappings():
        by_variant[row["variant_id"]].append({
            "rewrite_run_id": row["rewrite_run_id"], "rewrite_run": row.get("rewrite_run"), "text": row["text"],
            "operations": json.loads(row["operations_json"] or "[]")})
    return dict(by_variant)


def _rewritten(texts: dict[int, tuple[int | None, str]], rewrites: dict[int, list[dict]], run_id: int) -> dict:
    """The texts an ``INDEX@REWRITE`` system ranked: each (variant) text as that rewrite run rewrote it."""
    by_variant = {vid: next((w["text"] for w in rows if w["rewrite_run_id"] == run_id), None) for vid, rows in rewrites.items()}
    return {vid: (idx, by_variant.get(vid) or original) for vid, (idx, original) in texts.items()}


def _variants(conn: Connection, query_id: int, rewrites: dict[int, list[dict]]) -> list[dict]:
    return [
        {"variant_id": r["id"], "variant_set": r["name"], "idx": r["idx"], "text": r["text"],
         "operations": json.loads(r["operations_json"]), "levenshtein": r["levenshtein"], "damerau": r["damerau"],
         "rewrites": rewrites.get(r["id"], [])}
        for r in conn.execute(text(
            "SELECT v.id, s.name, v.idx, v.text, v.operations_json, v.levenshtein, v.damerau FROM query_variants v"
            " JOIN variant_sets s ON s.id = v.variant_set_id WHERE v.query_id = :q ORDER BY s.id, v.idx"), {"q": query_id}).mappings()
    ]


def _systems(conn: Connection, dataset: dict, names: list[str] | None) -> list[system_runs.SystemRuns]:
    if names is None:
        return [system_runs.resolve(conn, n, dataset["id"]) for n in system_runs.names(conn, dataset["id"])]
    found = []
    for name in names:
        system = system_runs.resolve(conn, name, dataset["id"])
        if system.dataset_id != dataset["id"]:
            raise XlcliError(f"--systems {name}: it was evaluated on another dataset than {dataset['name']!r}")
        found.append(system)
    return found


def _run_view(conn: Connection, run, query_id: int, texts: dict[int, tuple[int | None, str]], relevant: dict[int, dict],
              k: int) -> dict | None:
    measures: dict[int, dict[str, float]] = defaultdict(dict)
    for vid, name, value in conn.execute(text(
        "SELECT variant_id, measure, value FROM eval_measures WHERE eval_run_id = :r AND query_id = :q ORDER BY variant_id, measure"),
        {"r": run.id, "q": query_id}):
        measures[vid][name] = value
    if not measures:
        return None  # this run did not evaluate the query (another language, or no variants of it)
    ranked: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for vid, rank, pid, score in conn.execute(text(
        "SELECT variant_id, rank, passage_id, score FROM eval_rankings WHERE eval_run_id = :r AND query_id = :q ORDER BY variant_id, rank"),
        {"r": run.id, "q": query_id}):
        ranked[vid].append((rank, pid, score))
    ext = _passage_ext_ids(conn, {pid for rows in ranked.values() for _, pid, _ in rows})
    entries = []
    # A clean run ranks the query itself (variant 0); a variant set's run ranks each variant, and its
    # variant-0 value is their mean. A ranking may be empty (BM25 with no term in common).
    for vid in [0] if run.variant_set_id is None else [v for v in measures if v != 0]:
        rows = ranked.get(vid, [])
        rank_of = {pid: rank for rank, pid, _ in rows}
        idx, query_text = texts.get(vid, (None, ""))
        entries.append({
            "variant_id": vid, "variant_idx": idx, "text": query_text,
            "relevant_ranks": [{"ext_id": p["ext_id"], "relevance": p["relevance"], "rank": rank_of.get(pid)} for pid, p in relevant.items()],
            "top": [{"rank": rank, "ext_id": ext[pid], "score": score, "relevance": relevant[pid]["relevance"] if pid in relevant else None}
                    for rank, pid, score in rows[:k]],
            "measures": measures.get(vid, {}),
        })
    return {"eval_run_id": run.id, "lang": run.lang, "split": run.split, "condition": run.condition,
            "measures": measures.get(0, {}), "entries": entries}


def _passage_ext_ids(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(conn.execute(text(f"SELECT id, ext_id FROM passages WHERE id IN ({','.join(map(str, sorted(ids)))})")).all())


def inspect_query(conn: Connection, ext_id: str, *, dataset: str | None = None, lang: str | None = None,
                  systems: list[str] | None = None, k: int = 10) -> dict:
    """One query as a plain dict (what ``--json`` prints and the rich view renders)."""
    if k < 1:
        raise XlcliError(f"-k {k}: must be at least 1")
    ds = dict(resolve_dataset(conn, dataset))
    query = _query_row(conn, ds, ext_id, lang)
    chosen = _systems(conn, ds, systems)
    relevant_rows = _relevant(conn, query["id"])
    rewrites = _rewrites(conn, query["id"])
    variants = _variants(conn, query["id"], rewrites)
    metadata = json.loads(query["metadata_json"] or "{}")
    translations = [
        {"lang": r["lang"], "text": r["text"], "translator": r["translator"]}
        for r in conn.execute(text("SELECT lang, text, translator FROM queries WHERE dataset_id = :d AND ext_id = :e AND id != :q"
                                   " ORDER BY lang, translator"), {"d": ds["id"], "e": ext_id, "q": query["id"]}).mappings()
    ]
    texts = {0: (None, query["text"]), **{v["variant_id"]: (v["idx"], v["text"]) for v in variants}}
    relevant = {r["passage_id"]: r for r in relevant_rows}
    views = []
    for system in chosen:
        ranked = texts if system.rewrite_run_id is None else _rewritten(texts, rewrites, system.rewrite_run_id)
        runs = [v for run in system.runs if (v := _run_view(conn, run, query["id"], ranked, relevant, k)) is not None]
        if runs or systems is not None:
            views.append({"system": system.name, "runs": runs})
    return {
        "dataset": ds["name"],
        "query": {"ext_id": query["ext_id"], "lang": query["lang"], "split": query["split"], "scope": query["scope"],
                  "text": query["text"], "translator": query["translator"], "category": metadata.get("category_name")},
        "translations": translations,
        "relevant": [{"ext_id": r["ext_id"], "relevance": r["relevance"], "title": r["title"], "text": r["text"]} for r in relevant_rows],
        "rewrites": rewrites.get(0, []),
        "variants": variants,
        "k": k,
        "systems": views,
    }
