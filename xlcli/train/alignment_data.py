"""Line-aligned parallel sentences (Tatoeba, OPUS/Moses style) for the alignment objective.

Two plain-text files, one sentence per line, where line *i* of the foreign file translates line
*i* of the English file (Reimers & Gurevych, EMNLP 2020, "Making Monolingual Sentence Embeddings
Multilingual using Knowledge Distillation", train on exactly such pairs). Reading is strict:
files whose line counts differ are misaligned somewhere, and training on shifted pairs would
teach the model wrong translations, so the error names the lines instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from xlcli.datasets.files import read_text
from xlcli.errors import XlcliError


@dataclass(frozen=True)
class ParallelSentence:
    line: int  # 1-based line number in both files
    lang: str
    text: str  # the foreign sentence
    en_text: str  # its English counterpart


def _lines(path: Path) -> list[str]:
    # splitlines() would also split on U+2028 and friends, which Moses-style corpora keep inside lines.
    body = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    if body.endswith("\n"):
        body = body[:-1]
    return body.split("\n")


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def read_parallel(src_file: Path, en_file: Path, lang: str) -> list[ParallelSentence]:
    """Pairs of non-blank aligned lines; a one-sided blank line or a length mismatch is an error."""
    src, en = _lines(Path(src_file)), _lines(Path(en_file))
    if len(src) != len(en):
        longer, shorter = (src_file, en_file) if len(src) > len(en) else (en_file, src_file)
        first, last = min(len(src), len(en)) + 1, max(len(src), len(en))
        raise XlcliError(
            f"{src_file} has {len(src)} lines but {en_file} has {len(en)}: {_span(first, last)} of {longer} "
            f"have no counterpart in {shorter}; the files must be line-aligned"
        )
    pairs: list[ParallelSentence] = []
    for number, (foreign, english) in enumerate(zip(src, en), start=1):
        foreign, english = foreign.strip(), english.strip()
        if not foreign and not english:
            continue
        if not foreign or not english:
            empty, full = (src_file, en_file) if not foreign else (en_file, src_file)
            raise XlcliError(f"{empty}:{number}: empty line, but line {number} of {full} is not; the files must be line-aligned")
        pairs.append(ParallelSentence(number, lang, foreign, english))
    if not pairs:
        raise XlcliError(f"{src_file}: no sentence pairs (every line is blank)")
    return pairs


def load(conn: Connection, names: list[str]) -> dict[str, list[ParallelSentence]]:
    """The stored sentences of each named parallel dataset (``xlcli ingest parallel``)."""
    found: dict[str, list[ParallelSentence]] = {}
    for name in names:
        row = conn.execute(text("SELECT id, kind FROM datasets WHERE name = :n"), {"n": name}).first()
        if row is None:
            known = [n for (n,) in conn.execute(text("SELECT name FROM datasets WHERE kind = 'parallel' ORDER BY name"))]
            raise XlcliError(
                f"--parallel {name}: no such parallel dataset (have: {', '.join(known) or 'none'}); "
                "add one with `xlcli ingest parallel SRC_FILE EN_FILE --lang xx --name NAME`"
            )
        if row.kind != "parallel":
            raise XlcliError(f"--parallel {name}: dataset {name!r} is a {row.kind} dataset, not a parallel one")
        rows = conn.execute(
            text("SELECT line, lang, text, en_text FROM parallel_sentences WHERE dataset_id = :d ORDER BY line"),
            {"d": row.id},
        ).all()
        found[name] = [ParallelSentence(r.line, r.lang, r.text, r.en_text) for r in rows]
    return found


def ingest(store, name: str, lang: str, sentences: list[ParallelSentence], params: dict, *, source: str, en_source: str) -> dict:
    """Store ``sentences`` as dataset ``name`` (kind 'parallel'); idempotent for the same files.

    Returns a summary; ``already_done`` is set when these files were ingested under this name before.
    """
    import json

    from xlcli.store import invocations

    with store.read() as conn:
        existing = conn.execute(text("SELECT id, kind, invocation_id FROM datasets WHERE name = :n"), {"n": name}).first()
    key_params = {"dataset": name, "lang": lang, **params}
    if existing is not None:
        if existing.kind != "parallel":
            raise XlcliError(f"--name {name}: dataset {name!r} is a {existing.kind} dataset; choose another --name")
        if invocations.find_done(store, "ingest-parallel", key_params) is None:
            raise XlcliError(f"--name {name}: parallel dataset {name!r} already holds other sentences; choose another --name")
    summary = {"dataset": name, "lang": lang, "pairs": len(sentences), "already_done": False}
    with invocations.step(store, "ingest-parallel", key_params) as inv:
        if inv.already_done:
            return {**summary, "already_done": True, "pairs": 0}
        with store.write() as conn:
            dataset_id = conn.execute(
                text(
                    "INSERT INTO datasets (name, kind, lang, source, metadata_json, invocation_id)"
                    " VALUES (:n, 'parallel', :l, :s, :m, :i) RETURNING id"
                ),
                {"n": name, "l": lang, "s": source, "i": inv.id,
                 "m": json.dumps({"en_file": en_source, "pairs": len(sentences)}, ensure_ascii=False)},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO parallel_sentences (dataset_id, line, lang, text, en_text, invocation_id)"
                    " VALUES (:d, :n, :l, :t, :e, :i)"
                ),
                [{"d": dataset_id, "n": s.line, "l": s.lang, "t": s.text, "e": s.en_text, "i": inv.id} for s in sentences],
            )
        inv.summary = summary
    return summary
