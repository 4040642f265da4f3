"""What the store holds: per dataset counts and every step invocation, as plain data."""

from __future__ import annotations

import json

from sqlalchemy import Connection, text

from xlcli.store import Store, invocations
from xlcli.store.invocations import display_state


def _scalar(conn: Connection, sql: str, **params) -> int:
    return conn.execute(text(sql), params).scalar() or 0


def _dataset_summary(conn: Connection, ds) -> dict:
    d = ds["id"]
    summary = {
        "name": ds["name"],
        "kind": ds["kind"],
        "lang": ds["lang"],
        "source": ds["source"],
        "scopes": _scalar(conn, "SELECT count(DISTINCT scope) FROM passages WHERE dataset_id = :d AND scope IS NOT NULL", d=d),
        "passages": _scalar(conn, "SELECT count(*) FROM passages WHERE dataset_id = :d", d=d),
        "passages_by_unit": dict(conn.execute(text(
            "SELECT unit, count(*) FROM passages WHERE dataset_id = :d GROUP BY unit ORDER BY unit"), {"d": d}).all()),
        "queries": _scalar(conn, "SELECT count(*) FROM queries WHERE dataset_id = :d", d=d),
        "queries_by_lang_split": {
            f"{lang}/{split}" + (f" ({translator})" if translator else ""): n
            for lang, split, translator, n in conn.execute(text(
                "SELECT lang, split, translator, count(*) FROM queries WHERE dataset_id = :d"
                " GROUP BY lang, split, translator ORDER BY lang, split, translator"), {"d": d}).all()
        },
        "qrels": _scalar(conn, "SELECT count(*) FROM qrels JOIN queries q ON q.id = qrels.query_id WHERE q.dataset_id = :d", d=d),
        "queries_with_qrels": _scalar(conn, "SELECT count(DISTINCT query_id) FROM qrels JOIN queries q ON q.id = qrels.query_id WHERE q.dataset_id = :d", d=d),
        "variant_sets": {
            name: n for name, n in conn.execute(text(
                "SELECT vs.name, count(v.id) FROM variant_sets vs LEFT JOIN query_variants v ON v.variant_set_id = vs.id"
                " WHERE vs.dataset_id = :d GROUP BY vs.id ORDER BY vs.id"), {"d": d}).all()
        },
        "generated_queries": {
            name: n for name, n in conn.execute(text(
                "SELECT g.name, count(q.id) FROM generator_runs g LEFT JOIN generated_queries q ON q.generator_run_id = g.id"
                " WHERE g.dataset_id = :d GROUP BY g.id ORDER BY g.id"), {"d": d}).all()
        },
        "indexes": {
            name: {"kind": kind, "entries": n, "status": status}
            for name, kind, status, n in conn.execute(text(
                "SELECT i.name, i.kind, i.status, (SELECT count(*) FROM index_entries e WHERE e.index_id = i.id)"
                " FROM indexes i WHERE i.dataset_id = :d ORDER BY i.id"), {"d": d}).all()
        },
        "eval_runs": _scalar(conn, "SELECT count(*) FROM eval_runs WHERE dataset_id = :d", d=d),
        "training_runs": [r for (r,) in conn.execute(text("SELECT name FROM training_runs WHERE dataset_id = :d ORDER BY id"), {"d": d})],
    }
    if ds["kind"] == "locomo":
        summary["queries_by_category"] = dict(conn.execute(text(
            "SELECT json_extract(metadata_json, '$.category_name'), count(*) FROM queries"
            " WHERE dataset_id = :d AND source_query_id IS NULL GROUP BY 1 ORDER BY min(json_extract(metadata_json, '$.category'))"),
            {"d": d}).all())
    if ds["kind"] == "parallel":
        summary["parallel_sentences"] = _scalar(conn, "SELECT count(*) FROM parallel_sentences WHERE dataset_id = :d", d=d)
    return summary


def collect(store: Store) -> dict:
    with store.read() as conn:
        datasets = [_dataset_summary(conn, ds) for ds in conn.execute(text("SELECT * FROM datasets ORDER BY id")).mappings()]
        models = [dict(r) for r in conn.execute(text(
            "SELECT name, source, dim, pooling, step FROM models ORDER BY id")).mappings()]
        invocation_list = [
            {
                "id": r["id"], "step": r["step"], "state": display_state(r["state"], r["pid"], r["host"]),
                "attempts": r["attempts"], "started_at": r["started_at"], "finished_at": r["finished_at"],
                "params": json.loads(r["params_json"]), "error": r["error"],
            }
            for r in invocations.all_rows(conn)
        ]
        version = _scalar(conn, "SELECT max(version) FROM xlcli_migrations")
    return {"store": str(store.path), "schema_version": version, "datasets": datasets, "models": models, "invocations": invocation_list}
