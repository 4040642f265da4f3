"""eval.systems: the text forms of a system, and eval refusing what it cannot run yet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlcli.errors import XlcliError
from xlcli.eval.systems import SystemSpec, parse_list
from xlcli.store import open_store


@pytest.mark.parametrize(
    ("text", "index", "rewrite", "label"),
    [
        ("minilm", "minilm", None, "minilm"),
        ("  e5-small.v2+qg  ", "e5-small.v2+qg", None, "e5-small.v2+qg"),
        ("minilm@spell", "minilm", "spell", "minilm ⟲ spell"),
        ("minilm @ mt-opus ", "minilm", "mt-opus", "minilm ⟲ mt-opus"),
        ("minilm ⟲ spell", "minilm", "spell", "minilm ⟲ spell"),
        ("minilm⟲spell", "minilm", "spell", "minilm ⟲ spell"),
    ],
)
def test_a_system_parses_from_what_users_type_and_from_its_label(text, index, rewrite, label):
    spec = SystemSpec.parse(text)
    assert (spec.index, spec.rewrite, spec.label) == (index, rewrite, label)
    assert SystemSpec.parse(spec.label) == spec  # the label reads back as the same system


@pytest.mark.parametrize("text", ["", "  ", "@spell", " ⟲ spell", "minilm@", "minilm ⟲ ", "a@b@c", "a ⟲ b@c"])
def test_malformed_systems_are_one_line_errors(text):
    with pytest.raises(XlcliError, match="system"):
        SystemSpec.parse(text)


def test_parse_list_splits_repeated_and_comma_separated_options_in_order():
    assert parse_list(["bm,minilm@spell", " e5 ", "bm,"]) == [
        SystemSpec("bm"), SystemSpec("minilm", "spell"), SystemSpec("e5"), SystemSpec("bm"),
    ]
    assert parse_list([",", ""]) == []


def _all_rows(db: Path) -> dict[str, list[tuple]]:
    with open_store(db, write=False) as store, store.read() as conn:
        names = [n for (n,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%'"
        )]
        return {n: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{n}"').all()), key=repr) for n in names}


def test_eval_refuses_a_rewrite_that_does_not_exist(small_store, db):
    # (Before rewrites landed this refused every INDEX@REWRITE; now an unknown rewrite run is refused.)
    small_store("index", "--name", "bm", "--bm25")
    before = _all_rows(db)
    for value in ("bm@spell", "bm ⟲ spell", "bm,bm@spell"):
        result = small_store("eval", "--index", value, ok=False)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith("Error: ") and "spell: no such rewrite run (rewrite runs: none yet" in lines[0], lines
        assert _all_rows(db) == before, value
    results = json.loads(small_store("eval", "--index", "bm,bm", "--variants", "none", "--json").stdout)
    assert {r["index"] for r in results} == {"bm"} and len(results) == len({r["lang"] for r in results})
