"""A catalogue of bad inputs for every subcommand: each one is one ``Error:`` line, exit 2, no
traceback, and a store whose every table holds the same rows (``assert_refused`` in tests/conftest.py).

To cover a new command or option, add a :class:`Case` to ``CATALOGUE`` — ``args`` may use the
placeholders {tmp} (the case's folder), {fixtures}, {bert} (a tiny BERT) and {db}; ``prepare``
writes files or replaces the store before the run, ``check`` asserts more afterwards.
Numeric options, bad files and broken model folders live in tests/test_bad_input_values.py (the
same check, from the same kit).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import FIXTURES, Outcome, assert_refused, build_store, committed_fixture, copy_store, ingest_fixture, snapshot
from typer.testing import CliRunner

from xlcli.cli import app
from xlcli.store import engine
from xlcli.train import checkpoints

TEST_CONVERSATION = "conv-104"


def run(db: Path, *args) -> Outcome:
    """The real Typer app in this process (as conftest.Cli does), an escaped exception kept as a
    traceback on stderr instead of raised, so that the case fails on the check that names it."""
    result = CliRunner().invoke(app, ["--db", str(db), *map(str, args)], catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        stderr += "".join(traceback.format_exception(result.exception))
    return Outcome(result.exit_code, result.stdout, stderr)


@dataclass
class Case:
    id: str
    args: tuple
    prepare: Callable | None = None  # (env) -> None: write files, replace env.db, plant folders
    check: Callable | None = None  # (env) -> None: further assertions after the run
    subprocess: bool = False  # run `python -m xlcli` (the installed script's path) instead of in-process
    trained: bool = False  # prepare needs env.trained, a real checkpoint of the TRAIN parameters
    quiet: bool = True  # False: a pipeline may say on stdout which step it started before that step refuses


# -- helpers for preparing cases ---------------------------------------------------------------

def write(name: str, content: str | bytes) -> Callable:
    def prepare(env) -> None:
        path = env.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return prepare


def both(*steps: Callable) -> Callable:
    def prepare(env) -> None:
        for step in steps:
            step(env)
    return prepare


def foreign_db(env) -> None:
    env.db = env.tmp / "users.db"
    conn = sqlite3.connect(env.db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada'), ('grace')")
    conn.commit()
    conn.close()


def empty_db(env) -> None:
    env.db = env.tmp / "empty.db"
    env.db.write_bytes(b"")


def missing_db(env) -> None:
    env.db = env.tmp / "new.db"


def text_db(env) -> None:
    env.db = env.tmp / "notes.db"
    env.db.write_text("these are my notes, not a database\n", encoding="utf-8")


def truncated_db(env) -> None:
    data = env.db.read_bytes()
    env.db.write_bytes(data[: len(data) // 3])


def newer_db(env) -> None:
    conn = sqlite3.connect(env.db)
    conn.execute("INSERT INTO xlcli_migrations (version, name) VALUES (9999, 'from_the_future')")
    conn.commit()
    conn.close()


def read_only_file(env) -> None:
    env.db.chmod(0o444)
    env.restore.append(lambda: env.db.chmod(0o644))


def read_only_dir(env) -> None:
    env.tmp.chmod(0o555)
    env.restore.append(lambda: env.tmp.chmod(0o755))


def locked_db(env) -> None:
    """Another process holds the write lock for longer than the (shortened) busy timeout."""
    env.monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 200)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys, time
            conn = sqlite3.connect({str(env.db)!r}, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    env.restore.append(lambda: (holder.kill(), holder.wait()))


def db_is_directory(env) -> None:
    env.db = env.tmp / "a-folder"
    env.db.mkdir()


class _Payload:
    """Unpickling this creates a marker file: what a planted checkpoint would do with real code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _plant(env, *, same_run: bool) -> None:
    """A checkpoint folder for run 'planted' with config.json, a marker and a pickled trainer state."""
    import torch

    folder = checkpoints.models_dir(env.db) / "planted" / "step-4"
    if same_run:  # a copy of a real checkpoint of these parameters, its safe state swapped for a pickle
        import shutil

        shutil.copytree(env.trained, folder)
        for name in (checkpoints.STATE_FILE, checkpoints.STATE_TENSORS):
            (folder / name).unlink()
    else:  # another run's
        folder.mkdir(parents=True)
        (folder / "config.json").write_text((Path(env.bert) / "config.json").read_text(encoding="utf-8"), encoding="utf-8")
        meta = {"run": "planted", "key": "0123456789abcdef", "base": "elsewhere", "total_steps": 4, "step": 4}
        (folder / checkpoints.MARKER).write_text(json.dumps(meta), encoding="utf-8")
    torch.save({"optimizer": _Payload(env.tmp / "PWNED")}, folder / checkpoints.LEGACY_STATE)


def planted_other_run(env) -> None:
    _plant(env, same_run=False)


def planted_same_key(env) -> None:
    _plant(env, same_run=True)


def planted_bad_json_state(env) -> None:
    import shutil

    folder = checkpoints.models_dir(env.db) / "planted" / "step-4"
    shutil.copytree(env.trained, folder)
    (folder / checkpoints.STATE_FILE).write_text('{"__items__": [[["a"], 1]]}', encoding="utf-8")


def planted_pickled_weights(env) -> None:
    """This run's checkpoint with its weights as a pickle (pytorch_model.bin) instead of safetensors."""
    import shutil

    import torch

    folder = checkpoints.models_dir(env.db) / "planted" / "step-4"
    shutil.copytree(env.trained, folder)
    (folder / "model.safetensors").unlink()
    torch.save({"weights": _Payload(env.tmp / "PWNED")}, folder / "pytorch_model.bin")


def payload_did_not_run(env) -> None:
    assert not (env.tmp / "PWNED").exists(), "the planted pickle ran"


def nothing_created(*names: str) -> Callable:
    def check(env) -> None:
        for name in names:
            assert not (env.tmp / name).exists(), f"{name} was created"
    return check


def no_models_dir(env) -> None:
    assert not (checkpoints.models_dir(env.db) / "typo").exists()


def _pipeline(body: str) -> Callable:
    return write("study.toml", textwrap.dedent(body))


TRAIN = ("train", "--name", "planted", "--base", "{bert}", "--dataset", "fx", "--steps", "4", "--save-every", "2",
         "--batch-size", "4", "--max-length", "16", "--device", "cpu")
BEIR = ("ingest", "beir", "{fixtures}/beir", "--name", "beir2")
LOCOMO_JSON = json.dumps([{"sample_id": "conv-x", "conversation": {"speaker_a": "A", "speaker_b": "B"}, "qa": []}])

CATALOGUE = [
    # ingest locomo
    Case("locomo-missing-file", ("ingest", "locomo", "{tmp}/nope.json")),
    Case("locomo-not-json", ("ingest", "locomo", "{tmp}/bad.json"), write("bad.json", "[{\"sample_id\": ")),
    Case("locomo-wrong-shape", ("ingest", "locomo", "{tmp}/obj.json"), write("obj.json", '{"a": 1}')),
    Case("locomo-not-utf8", ("ingest", "locomo", "{tmp}/latin.json"), write("latin.json", b'[{"sample_id": "caf\xe9"}]')),
    Case("locomo-unknown-option", ("ingest", "locomo", "{fixtures}/locomo/locomo_fixture.json", "--bogus")),
    Case("locomo-fraction-not-a-number", ("ingest", "locomo", "{fixtures}/locomo/locomo_fixture.json", "--test-fraction", "abc")),
    Case("locomo-unknown-unit", ("ingest", "locomo", "{fixtures}/locomo/locomo_fixture.json", "--name", "fx2", "--units", "chapters")),
    Case("locomo-unknown-test-conversation", ("ingest", "locomo", "{fixtures}/locomo/locomo_fixture.json", "--name", "fx2",
                                               "--test-conversations", "conv-999")),
    Case("locomo-missing-argument", ("ingest", "locomo")),
    # ingest beir
    Case("beir-missing-folder", ("ingest", "beir", "{tmp}/nowhere")),
    Case("beir-empty-folder", ("ingest", "beir", "{tmp}/emptybeir"), lambda env: (env.tmp / "emptybeir").mkdir()),
    Case("beir-unknown-lang", (*BEIR, "--lang", "xx")),
    Case("beir-missing-split", (*BEIR, "--split", "nosuchsplit")),
    # ingest squad
    Case("squad-without-lang", ("ingest", "squad", "{fixtures}/squad/xquad.en.json")),
    Case("squad-without-lang-installed-script", ("ingest", "squad", "{fixtures}/squad/xquad.en.json"), subprocess=True),
    Case("squad-not-json", ("ingest", "squad", "{tmp}/q.json", "--lang", "en"), write("q.json", "{oops")),
    Case("squad-wrong-shape", ("ingest", "squad", "{tmp}/q.json", "--lang", "en"), write("q.json", '{"data": 5}')),
    Case("squad-unknown-lang", ("ingest", "squad", "{fixtures}/squad/xquad.en.json", "--lang", "xx")),
    # ingest translations
    Case("translations-unknown-lang", ("ingest", "translations", "{tmp}/t.jsonl", "--dataset", "fx"),
         write("t.jsonl", '{"query_id": "conv-101/q0", "lang": "xx", "text": "?"}\n')),
    Case("translations-not-jsonl", ("ingest", "translations", "{tmp}/t.jsonl", "--dataset", "fx"), write("t.jsonl", "{nope\n")),
    Case("translations-tsv-missing-columns", ("ingest", "translations", "{tmp}/t.tsv", "--dataset", "fx"),
         write("t.tsv", "query_id\ttext\nconv-101/q0\thola\n")),
    Case("translations-unknown-dataset", ("ingest", "translations", "{fixtures}/locomo/translations.jsonl", "--dataset", "nope")),
    Case("translations-two-datasets-no-choice", ("ingest", "translations", "{fixtures}/locomo/translations.jsonl")),
    # ingest parallel
    Case("parallel-without-lang", ("ingest", "parallel", "{tmp}/a.spa", "{tmp}/a.eng"),
         both(write("a.spa", "hola\n"), write("a.eng", "hello\n"))),
    Case("parallel-line-counts-differ", ("ingest", "parallel", "{tmp}/a.spa", "{tmp}/a.eng", "--lang", "es"),
         both(write("a.spa", "hola\nadios\n"), write("a.eng", "hello\n"))),
    Case("parallel-missing-file", ("ingest", "parallel", "{tmp}/a.spa", "{tmp}/none.eng", "--lang", "es"), write("a.spa", "hola\n")),
    # perturb
    Case("perturb-unknown-protocol", ("perturb", "-p", "nonsense", "--dataset", "fx")),
    Case("perturb-variants-not-a-number", ("perturb", "-p", "ielab", "--dataset", "fx", "-n", "abc")),
    Case("perturb-unknown-lang", ("perturb", "-p", "ielab", "--dataset", "fx", "--langs", "xx")),
    Case("perturb-unknown-dataset", ("perturb", "-p", "ielab", "--dataset", "nope")),
    Case("perturb-missing-layout-file", ("perturb", "-p", "ielab", "--dataset", "fx", "--layout", "en={tmp}/none.json")),
    Case("perturb-without-protocol", ("perturb", "--dataset", "fx")),
    # generate
    Case("generate-queries-missing-lexicon", ("generate", "queries", "--dataset", "fx", "--lexicon", "es={tmp}/none.txt")),
    Case("generate-queries-unknown-backend", ("generate", "queries", "--dataset", "fx", "--backend", "magic")),
    Case("generate-translations-without-to", ("generate", "translations", "--model", "{bert}")),
    Case("generate-translations-model-missing", ("generate", "translations", "--dataset", "fx", "--model", "{tmp}/no-model", "--to", "es")),
    # train (items 1 and 4: planted checkpoints)
    Case("train-planted-pickle-of-another-run", TRAIN, planted_other_run, payload_did_not_run),
    Case("train-planted-pickle-with-this-runs-key", TRAIN, planted_same_key, payload_did_not_run, trained=True),
    Case("train-broken-json-trainer-state", TRAIN, planted_bad_json_state, trained=True),
    Case("train-planted-pickled-weights", TRAIN, planted_pickled_weights, payload_did_not_run, trained=True),
    Case("train-unknown-pair-source", ("train", "--name", "typo", "--dataset", "fx", "--pairs", "nonsense:xx"), check=no_models_dir),
    Case("train-unknown-dataset", ("train", "--name", "typo", "--dataset", "nope", "--base", "{bert}")),
    Case("train-base-missing", ("train", "--name", "typo", "--dataset", "fx", "--base", "{tmp}/no-model")),
    Case("train-without-name", ("train", "--dataset", "fx")),
    Case("train-unknown-precision", ("train", "--name", "typo", "--dataset", "fx", "--base", "{bert}", "--precision", "fp8")),
    Case("train-fp16-precision", ("train", "--name", "typo", "--dataset", "fx", "--base", "{bert}", "--precision", "fp16")),
    # index
    Case("index-model-missing", ("index", "--name", "x", "--dataset", "fx", "--model", "{tmp}/no-model")),
    Case("index-bad-shard", ("index", "--name", "x", "--dataset", "fx", "--bm25", "--shard", "3/2")),
    Case("index-unknown-pooling", ("index", "--name", "x", "--dataset", "fx", "--model", "{bert}", "--pooling", "max")),
    Case("index-without-name", ("index", "--dataset", "fx", "--bm25")),
    Case("index-unknown-dataset", ("index", "--name", "x", "--dataset", "nope", "--bm25")),
    Case("index-model-config-is-a-list", ("index", "--name", "x", "--dataset", "fx", "--model", "{tmp}/listmodel"),
         write("listmodel/config.json", "[1, 2]")),
    Case("index-unknown-precision", ("index", "--name", "x", "--dataset", "fx", "--model", "{bert}", "--precision", "fp64")),
    Case("index-bm25-with-precision", ("index", "--name", "x", "--dataset", "fx", "--bm25", "--precision", "bf16")),
    Case("index-resume-in-another-precision", ("index", "--name", "fx-dense", "--dataset", "fx", "--model", "{bert}",
                                               "--device", "cpu", "--max-length", "32", "--precision", "bf16")),
    Case("pipeline-index-unknown-precision", ("pipeline", "run", "{tmp}/study.toml"),
         _pipeline('[[step]]\nrun = "index"\nname = "x"\nmodel = "default"\nprecision = "fp8"\n')),
    # search
    Case("search-unknown-index", ("search", "dog", "--index", "nope")),
    Case("search-k-not-a-number", ("search", "dog", "--index", "fx-bm25", "-k", "abc")),
    Case("search-without-query", ("search", "--index", "fx-bm25")),
    # eval
    Case("eval-unknown-index", ("eval", "--index", "nope")),
    Case("eval-unknown-variants", ("eval", "--index", "fx-bm25", "--variants", "abc")),
    Case("eval-unknown-measure", ("eval", "--index", "fx-bm25", "--measures", "Nope@10")),
    Case("eval-unknown-lang", ("eval", "--index", "fx-bm25", "--langs", "xx")),
    Case("eval-depth-not-a-number", ("eval", "--index", "fx-bm25", "--depth", "deep")),
    Case("eval-trec-out-cannot-be-created", ("eval", "--index", "fx-bm25", "--langs", "en", "--variants", "none",
                                             "--trec-out", "/proc/xlcli-trec")),
    Case("eval-trec-out-is-a-file", ("eval", "--index", "fx-bm25", "--trec-out", "{tmp}/f.txt"), write("f.txt", "x")),
    # report
    Case("report-unknown-measure", ("report", "--dataset", "fx", "--measure", "Nope@3")),
    Case("report-unknown-format", ("report", "--dataset", "fx", "--format", "xml")),
    Case("report-unknown-baseline", ("report", "--dataset", "fx", "--baseline", "nope")),
    Case("report-unknown-run", ("report", "--dataset", "fx", "--runs", "999999")),
    # pipeline
    Case("pipeline-missing-config", ("pipeline", "run", "{tmp}/none.toml")),
    Case("pipeline-not-toml", ("pipeline", "run", "{tmp}/study.toml"), _pipeline("[[step]\nrun = 'status'\n")),
    Case("pipeline-unknown-step", ("pipeline", "run", "{tmp}/study.toml"), _pipeline('[[step]]\nrun = "frobnicate"\n')),
    Case("pipeline-step-refuses-its-input", ("pipeline", "run", "{tmp}/study.toml"), both(
        write("t.jsonl", '{"query_id": "conv-101/q0", "lang": "xx", "text": "?"}\n'),
        _pipeline('[[step]]\nrun = "ingest translations"\nfile = "t.jsonl"\ndataset = "fx"\n')), quiet=False),
    Case("pipeline-status-missing-config", ("pipeline", "status", "{tmp}/none.toml")),
    # status
    Case("status-unknown-option", ("status", "--bogus")),
    # sql (item 2): read-only means read-only
    Case("sql-attach", ("sql", "ATTACH DATABASE '{tmp}/attached.db' AS a"), check=nothing_created("attached.db")),
    Case("sql-detach", ("sql", "DETACH DATABASE main")),
    Case("sql-several-statements", ("sql", "select 1; drop table passages")),
    Case("sql-delete", ("sql", "DELETE FROM passages")),
    Case("sql-insert", ("sql", "INSERT INTO datasets (name, kind, lang, invocation_id) VALUES ('x', 'y', 'en', 1)")),
    Case("sql-drop", ("sql", "DROP TABLE qrels")),
    Case("sql-load-extension", ("sql", "SELECT load_extension('{tmp}/evil')")),
    Case("sql-set-query-only-off", ("sql", "PRAGMA query_only = OFF")),
    Case("sql-set-journal-mode", ("sql", "PRAGMA journal_mode = DELETE")),
    Case("sql-temp-table", ("sql", "CREATE TEMP TABLE t AS SELECT 1")),
    Case("sql-vacuum-into", ("sql", "VACUUM INTO '{tmp}/copy.db'"), check=nothing_created("copy.db")),
    Case("sql-syntax-error", ("sql", "SELEC 1")),
    Case("sql-json-and-csv", ("sql", "SELECT 1", "--json", "--csv")),
    # stores (item 3)
    Case("store-foreign-sqlite-ingest", BEIR, foreign_db),
    Case("store-foreign-sqlite-status", ("status",), foreign_db),
    Case("store-empty-file-train", ("train", "--name", "x", "--base", "{bert}"), empty_db),
    Case("store-empty-file-perturb", ("perturb", "-p", "ielab"), empty_db),
    Case("store-empty-file-sql", ("sql", "select 1"), empty_db),
    Case("store-missing-train", ("train", "--name", "x", "--base", "{bert}"), missing_db, nothing_created("new.db", "new.db-wal")),
    Case("store-missing-pipeline-step-refused", ("pipeline", "run", "{tmp}/study.toml"),
         both(missing_db, _pipeline('[[step]]\nrun = "perturb"\nprotocol = "ielab"\n')), nothing_created("new.db"), quiet=False),
    Case("store-missing-status", ("status",), missing_db, nothing_created("new.db")),
    Case("store-not-sqlite", BEIR, text_db),
    Case("store-truncated", ("status",), truncated_db),
    Case("store-truncated-write", BEIR, truncated_db),
    Case("store-newer", BEIR, newer_db),
    Case("store-newer-status", ("status",), newer_db),
    Case("store-read-only-file", ("perturb", "-p", "ielab", "--dataset", "fx", "--name", "ro"), read_only_file),
    Case("store-read-only-directory", BEIR, read_only_dir),
    Case("store-locked", BEIR, locked_db),
    Case("store-is-a-directory", ("status",), db_is_directory),
    Case("store-is-a-device", BEIR, lambda env: setattr(env, "db", Path(os.devnull))),
    # demo
    Case("demo-unknown-option", ("demo", "--bogus")),
    # the root (item 5)
    Case("root-unknown-option", ("--bogus", "status")),
    Case("root-unknown-command", ("frobnicate",)),
]


@pytest.fixture(scope="module")
def catalogue_store(tmp_path_factory, tiny_bert) -> Path:
    """The LoCoMo fixture (one test conversation) with its translations, the BEIR fixture, an ielab
    variant set, a BM25 index, a dense index of the tiny BERT (vec0 shadow tables) and one eval run."""
    return build_store(
        tmp_path_factory.mktemp("catalogue") / "store.db", ingest_fixture("fx", "--test-conversations", TEST_CONVERSATION),
        ("ingest", "beir", committed_fixture("beir"), "--name", "beirfx"),
        ("perturb", "-p", "ielab", "--dataset", "fx", "--langs", "en", "--split", "test", "-n", "2"),
        ("index", "--name", "fx-bm25", "--dataset", "fx", "--bm25"),
        ("index", "--name", "fx-dense", "--dataset", "fx", "--model", tiny_bert, "--device", "cpu", "--max-length", "32"),
        ("eval", "--index", "fx-bm25", "--langs", "en", "--variants", "none"),
    ).db


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory, catalogue_store, tiny_bert) -> Path:
    """A real checkpoint (with its trainer state) of exactly the TRAIN parameters, made in a copy."""
    db = copy_store(catalogue_store, tmp_path_factory.mktemp("trained") / "store.db")
    outcome = run(db, *(a.format(bert=tiny_bert) for a in TRAIN))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    folder = checkpoints.models_dir(db) / "planted" / "step-4"
    assert (folder / checkpoints.STATE_FILE).is_file()
    return folder


def _run(case: Case, env) -> Outcome:
    args = [str(a).format(tmp=env.tmp, fixtures=FIXTURES, bert=env.bert, db=env.db) for a in case.args]
    if not case.subprocess:
        return run(env.db, *args)
    return Outcome.of(subprocess.run([sys.executable, "-m", "xlcli", "--db", str(env.db), *args], capture_output=True,
                                     text=True, timeout=300, env={**os.environ, "COLUMNS": "80"}))


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.id for c in CATALOGUE])
def test_bad_input_is_refused_in_one_line_with_the_store_unchanged(case, catalogue_store, tiny_bert, tmp_path, monkeypatch, request):
    trained = request.getfixturevalue("trained_checkpoint") if case.trained else None
    env = SimpleNamespace(tmp=tmp_path, db=copy_store(catalogue_store, tmp_path / "store.db"), bert=tiny_bert, monkeypatch=monkeypatch,
                          trained=trained, restore=[])
    try:
        if case.prepare is not None:
            case.prepare(env)
        before = snapshot(env.db)
        result = _run(case, env)
    finally:
        for undo in reversed(env.restore):
            undo()
    assert_refused(result, env.db, before, quiet=case.quiet)
    if case.check is not None:
        case.check(env)


def test_the_planted_pickle_is_live(tmp_path, catalogue_store, tiny_bert):
    """The payload the train cases plant really runs when unpickled (so their passing means something)."""
    import torch

    env = SimpleNamespace(tmp=tmp_path, db=copy_store(catalogue_store, tmp_path / "store.db"), bert=tiny_bert)
    planted_other_run(env)
    torch.load(checkpoints.models_dir(env.db) / "planted" / "step-4" / checkpoints.LEGACY_STATE, weights_only=False)
    assert (tmp_path / "PWNED").exists()


def test_sql_reads_still_work(catalogue_store, tmp_path):
    """The authorizer lets reads through: SELECT, WITH RECURSIVE, reporting pragmas, vec0 and FTS5."""
    db = copy_store(catalogue_store, tmp_path / "store.db")
    queries = {
        "SELECT count(*) AS n FROM passages": lambda rows: rows[0]["n"] > 0,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT sum(x) AS s FROM c":
            lambda rows: rows == [{"s": 6}],
        "PRAGMA table_info(passages)": lambda rows: any(r["name"] == "text" for r in rows),
        "PRAGMA user_version": lambda rows: len(rows) == 1,
        "-- a comment first\nSELECT 1 AS one": lambda rows: rows == [{"one": 1}],
        "SELECT vec_version() AS v": lambda rows: rows[0]["v"].startswith("v"),
    }
    conn = sqlite3.connect(db)
    vec_table, bm25_table = (conn.execute("SELECT vec_table FROM indexes WHERE name = ?", (name,)).fetchone()[0]
                             for name in ("fx-dense", "fx-bm25"))
    conn.close()
    queries[f"SELECT count(*) AS n FROM {vec_table}"] = lambda rows: rows[0]["n"] > 0
    # vec0's KNN runs statements of its own on its shadow tables: the authorizer must admit them.
    queries[f"SELECT passage_id, distance FROM {vec_table} WHERE embedding MATCH (SELECT embedding FROM {vec_table}"
            f" ORDER BY passage_id LIMIT 1) AND k = 3"] = lambda rows: len(rows) == 3 and rows[0]["distance"] < 1e-5
    queries[f"SELECT count(*) AS n FROM {bm25_table} WHERE {bm25_table} MATCH 'dog'"] = lambda rows: rows[0]["n"] >= 0
    for query, ok in queries.items():
        outcome = run(db, "sql", query, "--json")
        assert outcome.exit_code == 0, (query, outcome.stderr)
        assert ok(json.loads(outcome.stdout)), (query, outcome.stdout)
    assert run(db, "sql", "-- only a comment").exit_code == 0  # the argument, not an unknown option


def test_nothing_in_the_code_unpickles():
    """No torch.load without weights_only=True, no pickle / joblib / dill anywhere in xlcli or bench."""
    import re

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in [*root.glob("xlcli/**/*.py"), *root.glob("bench/**/*.py")]:
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\(", source):
            depth, end = 1, match.end()
            while depth and end < len(source):  # to the call's closing parenthesis
                depth += {"(": 1, ")": -1}.get(source[end], 0)
                end += 1
            call = source[match.start():end]
            if not re.search(r"weights_only\s*=\s*True", call):
                offenders.append(f"{path.relative_to(root)}: {call}")
        for match in re.finditer(r"^\s*(?:import|from)\s+(pickle|cPickle|joblib|dill|cloudpickle|shelve)\b", source, re.M):
            offenders.append(f"{path.relative_to(root)}: {match[0].strip()}")
        if "allow_pickle=True" in source or "read_pickle" in source:
            offenders.append(f"{path.relative_to(root)}: allow_pickle / read_pickle")
    assert not offenders, offenders
