"""datasets.parallel: reading line-aligned parallel sentence files strictly."""

from __future__ import annotations

import pytest

from xlcli.datasets.parallel import read_parallel
from xlcli.errors import XlcliError


def _files(tmp_path, src: str, en: str):
    a, b = tmp_path / "x.spa", tmp_path / "x.eng"
    a.write_bytes(src.encode("utf-8"))
    b.write_bytes(en.encode("utf-8"))
    return a, b


def test_read_parallel_aligns_lines_and_skips_lines_blank_on_both_sides(tmp_path):
    src, en = _files(tmp_path, "Hola.\r\n\r\n¿Qué tal?\r\n", "Hello.\n\nHow are you?\n")
    pairs = read_parallel(src, en, "es")
    assert [(p.line, p.text, p.en_text) for p in pairs] == [(1, "Hola.", "Hello."), (3, "¿Qué tal?", "How are you?")]


def test_read_parallel_names_the_lines_without_counterpart(tmp_path):
    src, en = _files(tmp_path, "a\nb\nc\nd\n", "A\nB\n")
    with pytest.raises(XlcliError, match=r"has 4 lines but .* has 2: lines 3-4 of .*x\.spa have no counterpart"):
        read_parallel(src, en, "es")
    src, en = _files(tmp_path, "a\nb\n", "A\nB\nC\n")
    with pytest.raises(XlcliError, match=r"line 3 of .*x\.eng"):
        read_parallel(src, en, "es")
    src, en = _files(tmp_path, "a\n\nc\n", "A\nB\nC\n")
    with pytest.raises(XlcliError, match=r"x\.spa:2: empty line"):
        read_parallel(src, en, "es")
