"""Translations of already-ingested queries: JSONL ``{"query_id", "lang", "text"}`` lines or a
TSV with the same three columns (an optional header row)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xlcli import languages
from xlcli.datasets.files import iter_jsonl, iter_tsv, read_text, require
from xlcli.errors import XlcliError

COLUMNS = ["query_id", "lang", "text"]


@dataclass(frozen=True)
class Translation:
    query_id: str
    lang: str
    text: str
    where: str


def read(path: Path) -> list[Translation]:
    first = read_text(path).lstrip()[:1]
    rows = iter_jsonl(path) if first == "{" else iter_tsv(path, COLUMNS)
    found: list[Translation] = []
    seen: dict[tuple[str, str], str] = {}
    for line, record in rows:
        where = f"{path}:{line}"
        query_id = str(require(record, "query_id", where, (str, int)))
        lang = languages.check(require(record, "lang", where), where=where)
        text = require(record, "text", where).strip()
        if (query_id, lang) in seen:
            raise XlcliError(f"{where}: duplicate translation of {query_id!r} into {lang!r} (first at {seen[(query_id, lang)]})")
        seen[(query_id, lang)] = where
        found.append(Translation(query_id, lang, text, where))
    return found
