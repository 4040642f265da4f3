"""Read line-aligned parallel sentences (Tatoeba, OPUS/Moses style) for the alignment objective.

Two plain-text files, one sentence per line, where line *i* of the foreign file translates line
*i* of the English file (Reimers & Gurevych, EMNLP 2020, "Making Monolingual Sentence Embeddings
Multilingual using Knowledge Distillation", train on exactly such pairs). Reading is strict:
files whose line counts differ are misaligned somewhere, and training on shifted pairs would
teach the model wrong translations, so the error names the lines instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
