"""SQuAD v1.1 / XQuAD JSON (Rajpurkar et al., 2016; Artetxe et al., 2020).

Paragraphs become passages ``<lang>/<article>/<paragraph>``; questions become queries whose
qrel is their paragraph. XQuAD shares question ids across languages, so when a question id of
another language is already in the dataset, the new question is stored as a translation of it
(see :mod:`xlcli.ingest`).
"""

from __future__ import annotations

from pathlib import Path

from xlcli.datasets.files import read_json, require
from xlcli.datasets.records import Collection, Passage, Qrel, Query
from xlcli.errors import XlcliError


def read(path: Path, *, lang: str, split: str = "test") -> Collection:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise XlcliError(f"{path}: expected a SQuAD object with a 'data' list")
    passages: list[Passage] = []
    queries: list[Query] = []
    qrels: list[Qrel] = []
    seen: set[str] = set()
    for a_index, article in enumerate(data["data"]):
        where = f"{path}: data[{a_index}]"
        title = article.get("title") if isinstance(article, dict) else None
        paragraphs = require(article, "paragraphs", where, list) if isinstance(article, dict) else None
        if paragraphs is None:
            raise XlcliError(f"{where}: expected an article object")
        for p_index, paragraph in enumerate(paragraphs):
            p_where = f"{where}.paragraphs[{p_index}]"
            if not isinstance(paragraph, dict):
                raise XlcliError(f"{p_where}: expected an object")
            context = require(paragraph, "context", p_where)
            passage_id = f"{lang}/{a_index}/{p_index}"
            passages.append(Passage(passage_id, context, lang, None, "passage", title, {"title": title}))
            for q_index, qa in enumerate(require(paragraph, "qas", p_where, list)):
                q_where = f"{p_where}.qas[{q_index}]"
                if not isinstance(qa, dict):
                    raise XlcliError(f"{q_where}: expected an object")
                query_id = str(require(qa, "id", q_where, (str, int)))
                if query_id in seen:
                    raise XlcliError(f"{q_where}: duplicate question id {query_id!r}")
                seen.add(query_id)
                answers = [a.get("text") for a in qa.get("answers") or [] if isinstance(a, dict)]
                queries.append(Query(query_id, require(qa, "question", q_where), lang, split, None, {"answers": answers}))
                qrels.append(Qrel(query_id, passage_id, 1))
    if not queries:
        raise XlcliError(f"{path}: no questions found")
    return Collection("squad", lang, passages, queries, qrels, metadata={"split": split})
