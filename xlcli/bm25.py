"""Lexical retrieval with SQLite FTS5's BM25 (Robertson & Zaragoza 2009; k1 = 1.2, b = 0.75).

One contentless FTS5 table per index (``fts_<index id>``, rowid = passage id), tokenised with
``unicode61 remove_diacritics 2`` so that accents never decide a match. Statistics (document
frequencies, average length) are those of the whole index; a query with a scope is ranked over the
passages of its scope only.

FTS5's ``bm25()`` is lower-is-better; xlcli reports ``score = −bm25()`` so that, as everywhere else,
higher is better. A user's query is never passed to FTS5 as syntax: it is split into words and
turned into an OR of quoted terms, so punctuation, ``AND``, ``NEAR``, ``*`` or quotes in a question
cannot break the query or change its meaning.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import Connection, text

_WORD = re.compile(r"[^\W_]+")
_TABLE = re.compile(r"^fts_\d+$")


def match_expression(query: str) -> str | None:
    """``When did Mel paint "a sunrise"?`` → ``"When" OR "did" OR ...``; None when it has no word."""
    terms = dict.fromkeys(_WORD.findall(unicodedata.normalize("NFC", query).lower()))
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def search(conn: Connection, table: str, query: str, k: int, scope: str | None = None) -> list[tuple[int, float]]:
    """Top ``k`` (passage id, score) by BM25, within ``scope`` when given; ties by ext id descending."""
    if not _TABLE.match(table):
        raise ValueError(f"bad FTS table name {table!r}")
    expression = match_expression(query)
    if expression is None:
        return []
    sql = (
        f"SELECT {table}.rowid AS pid, -bm25({table}) AS score FROM {table}"
        f" JOIN passages p ON p.id = {table}.rowid WHERE {table} MATCH :q"
    )
    params: dict = {"q": expression, "k": int(k)}
    if scope is not None:
        sql += " AND p.scope = :scope"
        params["scope"] = scope
    sql += " ORDER BY score DESC, p.ext_id DESC LIMIT :k"
    return [(int(pid), float(score)) for pid, score in conn.execute(text(sql), params)]
