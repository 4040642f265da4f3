"""BEIR folders (Thakur et al., NeurIPS 2021 datasets track): corpus.jsonl, queries.jsonl,
qrels/<split>.tsv with a ``query-id  corpus-id  score`` header row.

Only queries that have judgements in the chosen split are ingested (BEIR's queries.jsonl holds
every split's queries); the others are counted in the summary.
"""

from __future__ import annotations

from pathlib import Path

from xlcli.datasets.files import iter_jsonl, iter_tsv, require
from xlcli.datasets.records import Collection, Notes, Passage, Qrel, Query
from xlcli.errors import XlcliError


def read(folder: Path, *, split: str = "test", lang: str = "en") -> Collection:
    if not folder.is_dir():
        raise XlcliError(f"{folder}: not a BEIR folder (expected a directory with corpus.jsonl, queries.jsonl, qrels/)")
    corpus_file, queries_file, qrels_file = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    for needed in (corpus_file, queries_file, qrels_file):
        if not needed.is_file():
            raise XlcliError(f"{needed}: missing from the BEIR folder")

    notes = Notes()
    passages: dict[str, Passage] = {}
    for line, record in iter_jsonl(corpus_file):
        where = f"{corpus_file}:{line}"
        doc_id = str(require(record, "_id", where, (str, int)))
        text = record.get("text")
        if not isinstance(text, str):
            raise XlcliError(f"{where}: missing required field 'text'")
        if doc_id in passages:
            raise XlcliError(f"{where}: duplicate _id {doc_id!r}")
        title = record.get("title") or None
        passages[doc_id] = Passage(doc_id, text, lang, None, "passage", title, record.get("metadata") or {})

    texts: dict[str, str] = {}
    for line, record in iter_jsonl(queries_file):
        where = f"{queries_file}:{line}"
        query_id = str(require(record, "_id", where, (str, int)))
        if query_id in texts:
            raise XlcliError(f"{where}: duplicate _id {query_id!r}")
        texts[query_id] = require(record, "text", where)

    qrels: list[Qrel] = []
    judged: dict[str, None] = {}
    pairs: set[tuple[str, str]] = set()
    for line, row in iter_tsv(qrels_file, ["query-id", "corpus-id", "score"], header=True):
        where = f"{qrels_file}:{line}"
        query_id, doc_id = row["query-id"], row["corpus-id"]
        try:
            score = int(row["score"])
        except ValueError:
            raise XlcliError(f"{where}: score {row['score']!r} is not an integer") from None
        if query_id not in texts:
            raise XlcliError(f"{where}: query {query_id!r} is not in {queries_file.name}")
        if doc_id not in passages:
            notes.drop("judgement of a document missing from the corpus", f"{query_id} {doc_id}")
            continue
        if (query_id, doc_id) in pairs:
            raise XlcliError(f"{where}: duplicate judgement for query {query_id!r} and document {doc_id!r}")
        pairs.add((query_id, doc_id))
        judged.setdefault(query_id)
        qrels.append(Qrel(query_id, doc_id, score))

    for query_id in texts:
        if query_id not in judged:
            notes.drop(f"query without judgements in split {split!r}", query_id)
    queries = [Query(q, texts[q], lang, split) for q in judged]
    return Collection("beir", lang, list(passages.values()), queries, qrels, notes, {"split": split})
