"""Any dataset of the ``ir_datasets`` catalogue (MacAvaney et al., SIGIR 2021): mMARCO, MIRACL,
Mr. TyDi, NeuCLIR, BEIR... — the ids PyTerrier and pyserini use.

Documents become passages with their title kept apart from the text (the index joins them, as
for BEIR); queries and graded qrels are read in full (they are small), while the corpus is only
*opened* here: :meth:`Source.passages` streams it, so that :mod:`xlcli.ingest_stream` can write
millions of documents in batches without holding them.

Which query field is the query text: ``--query-field`` when given, else ``text`` when the query
type has one (mMARCO, MIRACL), else ir_datasets' own ``default_text()`` (the ``title`` of TREC-style
topics such as NeuCLIR's: the short form a user types).

ir_datasets is an optional dependency; without it every entry point raises one line saying how to
install it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from xlcli import languages
from xlcli.datasets.records import Notes, Passage, Qrel, Query
from xlcli.errors import XlcliError

KIND = "ir_datasets"
INSTALL_HINT = "ingest ir-datasets needs the ir_datasets package: pip install 'xlcli[ir-datasets]'"


def module():
    """The ir_datasets module, or the one-line install hint."""
    try:
        import ir_datasets
    except ImportError:
        raise XlcliError(INSTALL_HINT) from None
    return ir_datasets


@dataclass
class Source:
    """A validated ir_datasets dataset: queries and qrels read, the corpus ready to stream."""

    dataset_id: str
    dataset: object = field(repr=False)
    docs_lang: str
    queries_lang: str
    split: str
    query_field: str
    queries: list[Query]
    qrels: list[Qrel]
    notes: Notes
    docs_total: int | None

    @property
    def metadata(self) -> dict:
        return {"ir_datasets_id": self.dataset_id, "docs_lang": self.docs_lang, "queries_lang": self.queries_lang,
                "split": self.split, "query_field": self.query_field}

    def passages(self) -> Iterator[Passage]:
        """The corpus, one document at a time (never materialised)."""
        for doc in self.dataset.docs_iter():
            title = getattr(doc, "title", None) or None
            body = getattr(doc, "text", None)
            if body is None:  # a document type without `text`: its default text already holds the title
                body, title = doc.default_text(), None
            yield Passage(str(doc.doc_id), body, self.docs_lang, None, "passage", title)


def _lookup(ird, dataset_id: str):
    try:
        return ird.registry[dataset_id]
    except KeyError:
        close = difflib.get_close_matches(dataset_id, list(ird.registry), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (ids are listed at https://ir-datasets.com)"
        raise XlcliError(f"no ir_datasets dataset {dataset_id!r}{hint}") from None


def _with_judgements(ird, dataset_id: str, dataset, split: str):
    """The dataset itself when it has queries and qrels, else its ``/<split>`` subset when that has them."""
    if dataset.has_queries() and dataset.has_qrels():
        return dataset_id, dataset
    child = f"{dataset_id}/{split}"
    if child in set(ird.registry):
        sub = ird.registry[child]
        if sub.has_queries() and sub.has_qrels():
            return child, sub
    missing = "queries" if not dataset.has_queries() else "qrels"
    subsets = [k for k in ird.registry if k.startswith(dataset_id + "/")]
    hint = f"; subsets: {', '.join(subsets[:8])}{' ...' if len(subsets) > 8 else ''}" if subsets else ""
    raise XlcliError(f"ir_datasets dataset {dataset_id!r} has no {missing} (nor does {child!r}){hint}")


def _lang(given: str | None, dataset, method: str, option: str, dataset_id: str) -> str:
    if given is not None:
        return languages.check(given, where=option)
    try:
        found = getattr(dataset, method)()
    except AttributeError:
        found = None
    if not found:
        raise XlcliError(f"ir_datasets dataset {dataset_id!r} does not say its {method.split('_')[0]}' language: give {option}")
    return languages.check(found, where=f"{dataset_id} ({method})")


def _query_field(query_cls, wanted: str | None, dataset_id: str) -> str:
    fields = [f for f in query_cls._fields if f != "query_id"]
    if wanted is not None:
        if wanted not in fields:
            raise XlcliError(f"--query-field {wanted}: queries of {dataset_id!r} have fields {', '.join(fields)}")
        return wanted
    return "text" if "text" in fields else "default_text()"


def _query_text(query, query_field: str) -> str:
    return query.default_text() if query_field == "default_text()" else getattr(query, query_field)


def _docs_total(dataset) -> int | None:
    try:
        count = dataset.docs_count()
    except Exception:  # metadata is optional (a local dataset has none); the bar then counts up
        return None
    return int(count) if count else None


def open_dataset(dataset_id: str, *, split: str = "test", lang: str | None = None, queries_lang: str | None = None,
                 query_field: str | None = None, dataset=None) -> Source:
    """Validate ``dataset_id`` (or a ready ``dataset`` object) and read its queries and qrels.

    ``split`` is the split the queries get in the store; when the id itself has no queries,
    ``<id>/<split>`` is tried (``miracl/es`` + ``--split dev`` = ``miracl/es/dev``).
    """
    ird = module()
    if dataset is None:
        dataset_id, dataset = _with_judgements(ird, dataset_id, _lookup(ird, dataset_id), split)
    elif not (dataset.has_queries() and dataset.has_qrels()):
        raise XlcliError(f"ir_datasets dataset {dataset_id!r} has no queries or no qrels")
    if not dataset.has_docs():
        raise XlcliError(f"ir_datasets dataset {dataset_id!r} has no documents")
    docs_lang = _lang(lang, dataset, "docs_lang", "--lang", dataset_id)
    q_lang = _lang(queries_lang, dataset, "queries_lang", "--queries-lang", dataset_id)
    field_name = _query_field(dataset.queries_cls(), query_field, dataset_id)

    notes = Notes()
    texts: dict[str, str] = {}
    for query in dataset.queries_iter():
        qid = str(query.query_id)
        text = _query_text(query, field_name)
        if not isinstance(text, str) or not text.strip():
            notes.drop(f"query with an empty {field_name}", qid)
            continue
        if qid in texts:
            notes.drop("duplicate query id (first kept)", qid)
            continue
        texts[qid] = text

    judged: dict[str, dict[str, int]] = {}
    for qrel in dataset.qrels_iter():
        qid, doc_id = str(qrel.query_id), str(qrel.doc_id)
        if qid not in texts:
            notes.drop("judgement of a query missing from the queries", f"{qid} {doc_id}")
            continue
        grades = judged.setdefault(qid, {})
        if doc_id in grades:
            # TREC qrels may judge a pair in several iterations; the highest grade is the judgement.
            notes.normalise("pair judged twice (highest grade kept)", f"{qid} {doc_id}")
            grades[doc_id] = max(grades[doc_id], int(qrel.relevance))
            continue
        grades[doc_id] = int(qrel.relevance)
    for qid in texts:
        if qid not in judged:
            notes.drop(f"query without judgements in {dataset_id!r}", qid)
    if not judged:
        raise XlcliError(f"ir_datasets dataset {dataset_id!r}: no query has judgements")
    queries = [Query(q, texts[q], q_lang, split) for q in judged]
    qrels = [Qrel(q, d, r) for q, grades in judged.items() for d, r in grades.items()]
    return Source(dataset_id, dataset, docs_lang, q_lang, split, field_name, queries, qrels, notes, _docs_total(dataset))

