"""Bad input to ingest ir-datasets, inspect and report --compare: one `Error:` line, exit 2, store unchanged."""

from __future__ import annotations

import sys

import ir_datasets
import pytest
from conftest import Cli, assert_refused, snapshot
from evaluated_store import build
from ir_datasets.formats import TsvDocs
from ir_datasets.util import LocalDownload
from irds_local import register_local


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory) -> Cli:
    """The small LoCoMo evaluated with BM25 ('bm'), plus a local ir_datasets dataset evaluated with BM25 ('irds-bm')."""
    root = tmp_path_factory.mktemp("bad-input")
    cli = build(root)
    cli("ingest", "ir-datasets", register_local(root / "irds"), "--name", "irds")
    cli("index", "--name", "irds-bm", "--dataset", "irds", "--bm25")
    cli("eval", "--index", "irds-bm", "--measures", "R@10")
    return cli


def one_error_line(cli: Cli, *args: str) -> str:
    before = snapshot(cli.db)
    return assert_refused(cli(*args, ok=False), cli.db, before, "Error: ")


def test_without_ir_datasets_installed_says_how_to_install(two_datasets, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)  # `import ir_datasets` now raises ImportError
    line = one_error_line(two_datasets, "ingest", "ir-datasets", "mmarco/v2/es/dev/small")
    assert "pip install 'xlcli[ir-datasets]'" in line


def test_unknown_dataset_id_is_named(two_datasets):
    line = one_error_line(two_datasets, "ingest", "ir-datasets", "mmarco/v2/es/dev/smal")
    assert "'mmarco/v2/es/dev/smal'" in line and "mmarco/v2/es/dev/small" in line  # named, and the close id suggested


def test_dataset_without_queries(two_datasets, tmp_path):
    line = one_error_line(two_datasets, "ingest", "ir-datasets", register_local(tmp_path / "docs-only", with_queries=False))
    assert "has no queries" in line


def test_dataset_without_qrels(two_datasets, tmp_path):
    register_local(tmp_path / "files")  # writes the files; the dataset below has docs and queries only
    from ir_datasets.formats import TsvQueries

    dataset_id = "xlcli-test/no-qrels"
    if dataset_id not in set(ir_datasets.registry):
        ir_datasets.registry.register(dataset_id, ir_datasets.Dataset(
            TsvDocs(LocalDownload(tmp_path / "files" / "docs.tsv"), lang="es"),
            TsvQueries(LocalDownload(tmp_path / "files" / "queries.tsv"), lang="es")))
    assert "has no qrels" in one_error_line(two_datasets, "ingest", "ir-datasets", dataset_id)


@pytest.mark.parametrize("args, message", [
    (["--lang", "xx"], "unknown language code 'xx'"),
    (["--query-field", "body"], "--query-field body"),
])
def test_bad_ingest_options(two_datasets, tmp_path, args, message):
    assert message in one_error_line(two_datasets, "ingest", "ir-datasets", register_local(tmp_path / "x"), *args)


def test_reingest_under_a_name_of_another_kind(two_datasets, tmp_path):
    line = one_error_line(two_datasets, "ingest", "ir-datasets", register_local(tmp_path / "x"), "--name", "small")
    assert "is a locomo dataset" in line


@pytest.mark.parametrize("args, message", [
    (["inspect", "conv-zz/q9", "--dataset", "small"], "no query 'conv-zz/q9'"),
    (["inspect", "conv-b/q1", "--lang", "ru", "--dataset", "small"], "has no ru version"),
    (["inspect", "conv-b/q1", "--lang", "xx"], "unknown language code"),
    (["inspect", "conv-b/q1", "--systems", "nope", "--dataset", "small"], "no system 'nope'"),
    (["inspect", "conv-b/q1", "--systems", "irds-bm", "--dataset", "small"], "another dataset"),
    (["inspect", "conv-b/q1", "-k", "0", "--dataset", "small"], "-k 0"),
    (["inspect", "conv-b/q1", "--dataset", "nope"], "no dataset 'nope'"),
    (["report", "--compare", "bm,irds-bm"], "compare systems of one dataset"),
    (["report", "--compare", "bm,nope"], "no system 'nope'"),
    (["report", "--compare", "bm"], "give two systems"),
    (["report", "--compare", "bm,bm"], "two different systems"),
    (["report", "--compare", "bm,bm,irds-bm"], "give two systems"),
    (["report", "--compare", "bm,irds-bm", "--dataset", "small"], "compare systems of one dataset"),
    (["report", "--compare", "bm,bm", "--worst", "0"], "--worst 0"),
    (["report", "--compare", "irds-bm,bm", "--format", "yaml"], "--format yaml"),
])
def test_bad_inspect_and_compare(two_datasets, args, message):
    assert message in one_error_line(two_datasets, *args)


def test_compare_unknown_condition_and_measure(two_datasets):
    two_datasets("index", "--name", "bm2", "--dataset", "small", "--bm25")
    two_datasets("eval", "--index", "bm2", "--measures", "R@10", "--variants", "none")
    assert "no eval run for condition 'typo2'" in one_error_line(two_datasets, "report", "--compare", "bm,bm2", "--condition", "typo:typo2")
    assert "measure 'AP' was not computed" in one_error_line(two_datasets, "report", "--compare", "bm,bm2", "--measure", "AP")
