"""Reading input files with errors that name the file and the record."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlcli.errors import XlcliError


def check_file(path: Path) -> Path:
    if not path.exists():
        raise XlcliError(f"{path}: no such file")
    if path.is_dir():
        raise XlcliError(f"{path}: is a directory, expected a file")
    if path.stat().st_size == 0:
        raise XlcliError(f"{path}: the file is empty")
    return path


def read_text(path: Path) -> str:
    data = check_file(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise XlcliError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text.strip():
        raise XlcliError(f"{path}: the file is empty")
    return text


def read_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise XlcliError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise XlcliError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise XlcliError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
        yield number, value


def iter_tsv(path: Path, columns: list[str], *, header: bool | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line number, row dict). ``header=None`` skips a first row equal to ``columns``."""
    lines = read_text(path).splitlines()
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    for number, row in enumerate(_rows(reader, path), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if number == 1 and (header or (header is None and [c.strip() for c in row] == columns)):
            continue
        if len(row) != len(columns):
            raise XlcliError(f"{path}:{number}: expected {len(columns)} tab-separated columns ({', '.join(columns)}), got {len(row)}")
        yield number, dict(zip(columns, (cell.strip() for cell in row)))


def _rows(reader, path: Path) -> Iterator[list[str]]:
    """The reader's rows; its errors (a field over csv's size limit, a NUL byte) name the line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise XlcliError(f"{path}:{reader.line_num}: cannot read this TSV line ({exc})") from None


def require(record: dict, field: str, where: str, kind: type | tuple = str) -> Any:
    if field not in record or record[field] is None:
        raise XlcliError(f"{where}: missing required field {field!r}")
    value = record[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise XlcliError(f"{where}: field {field!r} should be {names}, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise XlcliError(f"{where}: field {field!r} is empty")
    return value


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
