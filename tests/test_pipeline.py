"""pipeline: steps from a TOML config, finished ones skipped, bad configs refused with their line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def write_config(tmp_path: Path, locomo: Path, translations: Path, extra: str = "") -> Path:
    config = tmp_path / "study.toml"
    config.write_text(f'''
# a small study
[[step]]
run = "ingest locomo"
file = "{locomo.name}"
name = "small"
test-conversations = "conv-b"

[[step]]
run = "ingest translations"
file = "{translations.name}"
{extra}''', encoding="utf-8")
    return config


def test_pipeline_runs_then_skips(cli, db, tmp_path, small_locomo_file, small_translations_file):
    config = write_config(tmp_path, small_locomo_file, small_translations_file)
    first = cli("pipeline", "run", config)
    assert "[run ] 1. xlcli ingest locomo" in first.output and "[run ] 2." in first.output
    info = json.loads(cli("status", "--json").output)
    assert info["datasets"][0]["queries"] == 16
    second = cli("pipeline", "run", config)
    assert second.output.count("[skip]") == 2
    assert json.loads(cli("status", "--json").output)["datasets"][0]["queries"] == 16
    table = cli("pipeline", "status", config).output
    assert table.count("done") == 2


def test_pipeline_status_before_running(cli, tmp_path, small_locomo_file, small_translations_file):
    config = write_config(tmp_path, small_locomo_file, small_translations_file)
    assert cli("pipeline", "status", config).output.count("pending") == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        ('\n[[step]]\nrun = "frobnicate"\n', ":14: unknown step 'frobnicate'"),
        ('dataset = "small"\ncolour = "red"\n', ":13: unknown parameter 'colour' for step 'ingest translations'"),
        ('\n[[step]]\nname = "x"\n', ":13: step 3 has no 'run'"),
    ],
)
def test_bad_config_names_the_line(cli, db, tmp_path, small_locomo_file, small_translations_file, extra, message):
    config = write_config(tmp_path, small_locomo_file, small_translations_file, extra)
    result = cli("pipeline", "run", config, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert not db.exists()


def test_failing_step_stops_the_pipeline(cli, db, tmp_path, small_locomo_file, small_translations_file):
    small_translations_file.write_text('{"query_id": "conv-a/q0", "lang": "xx", "text": "?"}\n')
    config = write_config(tmp_path, small_locomo_file, small_translations_file)
    result = cli("pipeline", "run", config, ok=False)
    assert result.exit_code == 2 and "unknown language code 'xx'" in result.output and "step 2" in result.output
    status = cli("pipeline", "status", config).output  # the refused step left no trace in the store
    assert "done" in status and "pending" in status and "failed" not in status
