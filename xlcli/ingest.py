"""Write what the readers produced into the store, idempotently by external id.

Re-ingesting the same file with the same options finds the finished invocation and adds
nothing; an overlapping file adds only the records that are new. Everything is validated
before the first write, so a bad file leaves the store unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, text

from xlcli.datasets.records import Collection
from xlcli.datasets.translations import Translation
from xlcli.errors import XlcliError
from xlcli.store import Store, invocations
from xlcli.store.catalog import resolve_dataset


@dataclass
class IngestResult:
    dataset: str
    already_done: bool = False
    added: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "already_done": self.already_done, "added": self.added,
                "skipped": self.skipped, "notes": self.notes}


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _existing_dataset(store: Store, name: str):
    with store.read() as conn:
        return conn.execute(text("SELECT * FROM datasets WHERE name = :n"), {"n": name}).mappings().first()


def _check_compatible(store: Store, dataset, collection: Collection) -> None:
    if dataset["kind"] != collection.kind:
        raise XlcliError(f"dataset {dataset['name']!r} is a {dataset['kind']} dataset; ingest this {collection.kind} file under another --name")
    with store.read() as conn:
        splits = dict(conn.execute(
            text("SELECT ext_id, split FROM queries WHERE dataset_id = :d AND source_query_id IS NULL"),
            {"d": dataset["id"]},
        ).all())
    for query in collection.queries:
        old = splits.get(query.ext_id)
        if old is not None and old != query.split:
            raise XlcliError(
                f"dataset {dataset['name']!r} already has query {query.ext_id} in split {old!r} (this ingest puts it in "
                f"{query.split!r}); use the same split options or another --name"
            )


def require_sources(store: Store, name: str, lang: str, file: Path) -> None:
    """XQuAD shares question ids across languages and the first file ingested holds the sources:
    a non-English file ingested before its English one would make the English questions its
    translations. Refused unless the dataset already has source questions."""
    existing = _existing_dataset(store, name)
    if existing is not None:
        with store.read() as conn:
            if _originals(conn, existing["id"]):
                return
    raise XlcliError(
        f"{file}: dataset {name!r} has no questions yet, so these {lang} questions would become the sources of the "
        "English ones; ingest the English file first (--lang en, same --name), or add --original if this file has "
        "no English counterpart"
    )


def ingest_collection(store: Store, name: str, collection: Collection, params: dict, *, source: str) -> IngestResult:
    existing = _existing_dataset(store, name)
    if existing is not None:
        _check_compatible(store, existing, collection)
    result = IngestResult(name, notes=collection.notes.as_dict())
    with invocations.step(store, "ingest", {"dataset": name, "kind": collection.kind, **params}) as inv:
        if inv.already_done:
            result.already_done = True
            result.added = {"passages": 0, "queries": 0, "qrels": 0}
            return result
        with store.write() as conn:
            dataset_id = _dataset_id(conn, name, collection, source, inv.id)
            result.added["passages"] = _insert_passages(conn, dataset_id, collection, inv.id)
            result.added["queries"], result.added["translations"] = _insert_queries(conn, dataset_id, collection, inv.id)
            result.added["qrels"] = _insert_qrels(conn, dataset_id, collection, inv.id)
        result.skipped = {
            "passages": len(collection.passages) - result.added["passages"],
            "queries": len(collection.queries) - result.added["queries"] - result.added["translations"],
        }
        inv.summary = result.as_dict()
    return result


def _dataset_id(conn: Connection, name: str, collection: Collection, source: str, invocation_id: int) -> int:
    row = conn.execute(text("SELECT id FROM datasets WHERE name = :n"), {"n": name}).first()
    if row is not None:
        return row.id
    return conn.execute(
        text(
            "INSERT INTO datasets (name, kind, lang, source, metadata_json, invocation_id)"
            " VALUES (:n, :k, :l, :s, :m, :i) RETURNING id"
        ),
        {"n": name, "k": collection.kind, "l": collection.lang, "s": source, "m": _dumps(collection.metadata), "i": invocation_id},
    ).scalar_one()


def _insert_passages(conn: Connection, dataset_id: int, collection: Collection, invocation_id: int) -> int:
    result = conn.execute(
        text(
            "INSERT OR IGNORE INTO passages (dataset_id, ext_id, lang, scope, unit, title, text, metadata_json, invocation_id)"
            " VALUES (:d, :e, :l, :s, :u, :t, :x, :m, :i)"
        ),
        [
            {"d": dataset_id, "e": p.ext_id, "l": p.lang, "s": p.scope, "u": p.unit, "t": p.title, "x": p.text,
             "m": _dumps(p.metadata), "i": invocation_id}
            for p in collection.passages
        ],
    )
    return max(result.rowcount, 0)


def _originals(conn: Connection, dataset_id: int) -> dict[str, dict]:
    rows = conn.execute(
        text("SELECT id, ext_id, lang, split, scope, metadata_json FROM queries"
             " WHERE dataset_id = :d AND source_query_id IS NULL AND translator = ''"),
        {"d": dataset_id},
    ).mappings()
    return {r["ext_id"]: dict(r) for r in rows}


def _insert_queries(conn: Connection, dataset_id: int, collection: Collection, invocation_id: int) -> tuple[int, int]:
    """Insert queries; one whose ext id exists in another language becomes its translation (XQuAD)."""
    originals = _originals(conn, dataset_id)
    added = translated = 0
    for query in collection.queries:
        source = originals.get(query.ext_id)
        is_translation = source is not None and source["lang"] != query.lang
        params = {
            "d": dataset_id, "e": query.ext_id, "l": query.lang, "sp": query.split, "sc": query.scope,
            "x": query.text, "src": source["id"] if is_translation else None, "m": _dumps(query.metadata), "i": invocation_id,
        }
        result = conn.execute(
            text(
                "INSERT OR IGNORE INTO queries (dataset_id, ext_id, lang, split, scope, text, source_query_id, metadata_json, invocation_id)"
                " VALUES (:d, :e, :l, :sp, :sc, :x, :src, :m, :i)"
            ),
            params,
        )
        if result.rowcount > 0:
            if is_translation:
                translated += 1
                _copy_qrels(conn, source["id"], _query_id(conn, dataset_id, query.ext_id, query.lang, ""), invocation_id)
            else:
                added += 1
    return added, translated


def _query_id(conn: Connection, dataset_id: int, ext_id: str, lang: str, translator: str) -> int:
    return conn.execute(
        text("SELECT id FROM queries WHERE dataset_id = :d AND ext_id = :e AND lang = :l AND translator = :t"),
        {"d": dataset_id, "e": ext_id, "l": lang, "t": translator},
    ).scalar_one()


def _insert_qrels(conn: Connection, dataset_id: int, collection: Collection, invocation_id: int) -> int:
    passage_ids = dict(conn.execute(text("SELECT ext_id, id FROM passages WHERE dataset_id = :d"), {"d": dataset_id}).all())
    query_ids = {
        (ext, lang): qid
        for qid, ext, lang in conn.execute(
            text("SELECT id, ext_id, lang FROM queries WHERE dataset_id = :d AND translator = ''"), {"d": dataset_id}
        ).all()
    }
    rows = []
    lang_of = {q.ext_id: q.lang for q in collection.queries}
    for qrel in collection.qrels:
        query_id = query_ids[(qrel.query_ext_id, lang_of[qrel.query_ext_id])]
        rows.append({"q": query_id, "p": passage_ids[qrel.passage_ext_id], "r": qrel.relevance, "i": invocation_id})
    if not rows:
        return 0
    result = conn.execute(
        text("INSERT OR IGNORE INTO qrels (query_id, passage_id, relevance, invocation_id) VALUES (:q, :p, :r, :i)"), rows
    )
    return max(result.rowcount, 0)


def _copy_qrels(conn: Connection, source_id: int, target_id: int, invocation_id: int) -> None:
    conn.execute(
        text(
            "INSERT OR IGNORE INTO qrels (query_id, passage_id, relevance, invocation_id)"
            " SELECT :t, passage_id, relevance, :i FROM qrels WHERE query_id = :s"
        ),
        {"t": target_id, "s": source_id, "i": invocation_id},
    )


def check_translations(conn: Connection, dataset_id: int, translations: Iterable[Translation], translator: str = "") -> dict[str, dict]:
    """Every translation's source query, or a one-line error naming the file and line."""
    originals = _originals(conn, dataset_id)
    for t in translations:
        source = originals.get(t.query_id)
        if source is None:
            raise XlcliError(f"{t.where}: no query {t.query_id!r} in the dataset to translate")
        if source["lang"] == t.lang:
            raise XlcliError(f"{t.where}: query {t.query_id!r} is already in {t.lang!r}")
    return originals


def write_translations(
    conn: Connection, dataset_id: int, translations: Iterable[Translation], *, translator: str, invocation_id: int,
    originals: dict[str, dict] | None = None,
) -> tuple[int, int]:
    """Store translations linked to their sources (split, scope, metadata and qrels inherited).

    ``translator`` is '' for human translations and the MT model for machine ones. Returns
    (added, already present).
    """
    originals = originals if originals is not None else _originals(conn, dataset_id)
    added = present = 0
    for t in translations:
        source = originals[t.query_id]
        metadata = json.loads(source["metadata_json"])
        if translator:
            metadata["machine_translated"] = True
        result = conn.execute(
            text(
                "INSERT OR IGNORE INTO queries (dataset_id, ext_id, lang, split, scope, text, source_query_id, translator, metadata_json, invocation_id)"
                " VALUES (:d, :e, :l, :sp, :sc, :x, :src, :tr, :m, :i) RETURNING id"
            ),
            {"d": dataset_id, "e": t.query_id, "l": t.lang, "sp": source["split"], "sc": source["scope"], "x": t.text,
             "src": source["id"], "tr": translator, "m": _dumps(metadata), "i": invocation_id},
        ).first()
        if result is None:
            present += 1
            continue
        _copy_qrels(conn, source["id"], result.id, invocation_id)
        added += 1
    return added, present


def differing_translations(conn: Connection, dataset_id: int, translations: Iterable[Translation],
                           translator: str = "") -> list[tuple[Translation, str]]:
    """(translation, stored text) for each translation already stored with another text."""
    stored = {
        (ext, lang): body
        for ext, lang, body in conn.execute(
            text("SELECT ext_id, lang, text FROM queries WHERE dataset_id = :d AND source_query_id IS NOT NULL AND translator = :t"),
            {"d": dataset_id, "t": translator},
        ).all()
    }
    return [(t, stored[(t.query_id, t.lang)]) for t in translations
            if (t.query_id, t.lang) in stored and stored[(t.query_id, t.lang)] != t.text]


def ingest_translations(store: Store, dataset: str | None, path: Path, translations: list[Translation], params: dict) -> IngestResult:
    """Store a file's human translations. One that is already stored keeps its stored text even
    when the file gives another: variant sets, eval runs and rankings were computed from that
    text and would silently stop matching it. How many differ is reported (``notes["differ"]``)."""
    with store.read() as conn:
        row = resolve_dataset(conn, dataset)
        check_translations(conn, row["id"], translations)
        differ = differing_translations(conn, row["id"], translations)
    result = IngestResult(row["name"])
    if differ:
        first, old = differ[0]
        result.notes["differ"] = {"count": len(differ), "example": f"{first.where}: stored {old!r}, file {first.text!r}"}
    with invocations.step(store, "ingest-translations", {"dataset": row["name"], **params}) as inv:
        if inv.already_done:
            result.already_done = True
            result.added = {"translations": 0}
            return result
        with store.write() as conn:
            added, present = write_translations(conn, row["id"], translations, translator="", invocation_id=inv.id)
        result.added = {"translations": added}
        result.skipped = {"translations already present": present}
        inv.summary = result.as_dict()
    return result
