"""Local ir_datasets datasets for tests, built with ir_datasets' own formats over files in a temp dir
(nothing is downloaded): titled documents, queries with one or several fields, graded TREC qrels."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import NamedTuple

import ir_datasets
from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
from ir_datasets.util import LocalDownload


class TitledDoc(NamedTuple):
    doc_id: str
    title: str
    text: str

    def default_text(self):
        return f"{self.title} {self.text}"


class Topic(NamedTuple):
    """A TREC-style topic: several fields, none called ``text``."""

    query_id: str
    title: str
    description: str

    def default_text(self):
        return self.title


DOCS = [
    ("d1", "Perros", "El perro de Jolene se llama Pepper."),
    ("d2", "Gatos", "La gata de Priya se llama Mango."),
    ("d3", "Camiones", "El camión de comida abrió en abril."),
    ("d4", "", "Tomás vende tacos en el puerto."),
]
QUERIES = [("q1", "¿cómo se llama el perro?"), ("q2", "¿cómo se llama la gata?"), ("q3", "¿qué vende Tomás?"),
           ("q4", "una pregunta sin juicios")]
# Graded: 2 = highly relevant, 1 = relevant, 0 = judged not relevant; d9 is not in the corpus.
QRELS = [("q1", "d1", 2), ("q2", "d2", 1), ("q2", "d1", 0), ("q3", "d4", 2), ("q3", "d3", 1), ("q3", "d9", 1)]
QREL_DEFS = {0: "not relevant", 1: "relevant", 2: "highly relevant"}


def _tsv(path: Path, rows) -> LocalDownload:
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return LocalDownload(path)


def register_local(directory: Path, *, docs=DOCS, queries=QUERIES, qrels=QRELS, topics: bool = False,
                   with_queries: bool = True, lang: str = "es") -> str:
    """Register a dataset over files in ``directory`` under a fresh id; return that id."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [TsvDocs(_tsv(directory / "docs.tsv", docs), doc_cls=TitledDoc, lang=lang, count_hint=len(docs))]
    if with_queries:
        if topics:
            rows = [(q, t, f"Find documents about: {t}") for q, t in queries]
            parts.append(TsvQueries(_tsv(directory / "topics.tsv", rows), query_cls=Topic, lang=lang))
        else:
            parts.append(TsvQueries(_tsv(directory / "queries.tsv", queries), lang=lang))
        qrel_file = directory / "qrels.txt"
        qrel_file.write_text("".join(f"{q} 0 {d} {r}\n" for q, d, r in qrels), encoding="utf-8")
        parts.append(TrecQrels(LocalDownload(qrel_file), QREL_DEFS))
    dataset_id = f"xlcli-test/{uuid.uuid4().hex[:8]}"
    ir_datasets.registry.register(dataset_id, ir_datasets.Dataset(*parts))
    return dataset_id
