"""Write a streamed corpus (``ingest ir-datasets``) into the store in batches.

:func:`xlcli.ingest.ingest_collection` writes a whole collection in one transaction, which needs
it in memory; a corpus of millions of documents is written here one batch per transaction
instead, so memory stays flat however large the corpus. Queries and qrels (small) follow in one
last transaction. Everything about the dataset is validated before the first write (the reader
reads queries and qrels up front); the rows are idempotent by external id (``INSERT OR IGNORE``),
so a finished ingest re-run is a no-op and an interrupted one resumes under the same invocation
with the same rows as an uninterrupted run.
"""

from __future__ import annotations

from itertools import islice

from sqlalchemy import Connection

from xlcli.datasets.ir_datasets import KIND, Source
from xlcli.datasets.records import Collection
from xlcli.ingest import IngestResult, _check_compatible, _dataset_id, _existing_dataset, _insert_queries
from xlcli.progress import optional_bar
from xlcli.store import Store, invocations

BATCH = 20_000
_PASSAGE_SQL = (
    "INSERT OR IGNORE INTO passages (dataset_id, ext_id, lang, scope, unit, title, text, metadata_json, invocation_id)"
    " VALUES (?, ?, ?, NULL, 'passage', ?, ?, '{}', ?)"
)


def ingest_source(store: Store, name: str, source: Source, params: dict, *, batch_size: int = BATCH,
                  show_progress: bool = True) -> IngestResult:
    collection = Collection(KIND, source.queries_lang, [], source.queries, source.qrels, source.notes, source.metadata)
    existing = _existing_dataset(store, name)
    if existing is not None:
        _check_compatible(store, existing, collection)
    result = IngestResult(name, notes=source.notes.as_dict())
    with invocations.step(store, "ingest", {"dataset": name, "kind": KIND, **params}) as inv:
        if inv.already_done:
            result.already_done = True
            result.added = {"passages": 0, "queries": 0, "qrels": 0}
            return result
        with store.write() as conn:
            dataset_id = _dataset_id(conn, name, collection, source.dataset_id, inv.id)
        added = seen = 0
        docs = source.passages()
        with optional_bar(show_progress, f"Ingesting {source.dataset_id}", source.docs_total, unit="docs") as bar:
            while batch := list(islice(docs, batch_size)):
                with store.write() as conn:
                    cursor = conn.exec_driver_sql(
                        _PASSAGE_SQL, [(dataset_id, p.ext_id, p.lang, p.title, p.text, inv.id) for p in batch])
                    added += max(cursor.rowcount, 0)
                seen += len(batch)
                bar.advance(len(batch))
        with store.write() as conn:
            kept = _judged_in_corpus(conn, dataset_id, collection)
            queries, translations = _insert_queries(conn, dataset_id, kept, inv.id)
            qrels = _insert_qrels(conn, dataset_id, kept, inv.id)
        result.added = {"passages": added, "queries": queries, "translations": translations, "qrels": qrels}
        result.skipped = {"passages": seen - added, "queries": len(kept.queries) - queries - translations}
        result.notes = kept.notes.as_dict()
        inv.summary = result.as_dict()
    return result


def _existing_ext_ids(conn: Connection, dataset_id: int, ext_ids: list[str]) -> set[str]:
    """Which of ``ext_ids`` are passages of the dataset (looked up in chunks: no corpus-wide dict)."""
    found: set[str] = set()
    for start in range(0, len(ext_ids), 500):
        chunk = ext_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in conn.exec_driver_sql(
            f"SELECT ext_id FROM passages WHERE dataset_id = ? AND ext_id IN ({marks})", (dataset_id, *chunk)))
    return found


def _judged_in_corpus(conn: Connection, dataset_id: int, collection: Collection) -> Collection:
    """The collection without judgements of documents the corpus lacks, nor queries left unjudged."""
    present = _existing_ext_ids(conn, dataset_id, sorted({q.passage_ext_id for q in collection.qrels}))
    qrels = []
    for qrel in collection.qrels:
        if qrel.passage_ext_id in present:
            qrels.append(qrel)
        else:
            collection.notes.drop("judgement of a document missing from the corpus", f"{qrel.query_ext_id} {qrel.passage_ext_id}")
    judged = {q.query_ext_id for q in qrels}
    for query in collection.queries:
        if query.ext_id not in judged:
            collection.notes.drop("query whose judged documents are all missing from the corpus", query.ext_id)
    queries = [q for q in collection.queries if q.ext_id in judged]
    return Collection(collection.kind, collection.lang, [], queries, qrels, collection.notes, collection.metadata)


def _insert_qrels(conn: Connection, dataset_id: int, collection: Collection, invocation_id: int) -> int:
    # Ids looked up by the unique (dataset, ext id) indexes row by row, not through a dict of the corpus.
    lang = {q.ext_id: q.lang for q in collection.queries}
    cursor = conn.exec_driver_sql(
        "INSERT OR IGNORE INTO qrels (query_id, passage_id, relevance, invocation_id)"
        " SELECT q.id, p.id, ?, ? FROM queries q JOIN passages p ON p.dataset_id = q.dataset_id AND p.ext_id = ?"
        " WHERE q.dataset_id = ? AND q.ext_id = ? AND q.lang = ? AND q.translator = ''",
        [(r.relevance, invocation_id, r.passage_ext_id, dataset_id, r.query_ext_id, lang[r.query_ext_id]) for r in collection.qrels],
    )
    return max(cursor.rowcount, 0)
