"""Bad values, files and model folders: one ``Error:`` line, exit code 2, no traceback, every table's rows unchanged.

Each case runs the real CLI on a copy of one small ingested store (LoCoMo + translations + a
variant set + a BM25 index) and compares every table's rows — not counts or bytes — before and
after. Numeric ranges are checked while the command line is parsed (xlcli/commands/ranges.py).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Cli, Outcome, assert_refused, build_store, copy_store, ingest_small, snapshot

from xlcli.errors import XlcliError


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The small LoCoMo (conv-b held out), its translations, an ielab variant set and a BM25 index."""
    return build_store(tmp_path_factory.mktemp("bad-values") / "store.db", ingest_small,
                       ("perturb", "--protocol", "ielab", "--variants", "2"), ("index", "--name", "bm", "--bm25")).db


@pytest.fixture
def store(built, tmp_path) -> Path:
    return copy_store(built, tmp_path / "store.db")


# --- numeric options, for every command: refused by the parser -------------------------------------

NUMERIC = {
    "eval": (["eval", "--index", "bm"], [
        ("--batch-size", "0"), ("--batch-size", "-1"), ("--depth", "0"), ("--depth", "-5"), ("--depth", "10000000"),
    ]),
    "search": (["search", "dog", "--index", "bm"], [("-k", "0"), ("-k", "-3"), ("--k", "99999999")]),
    "index": (["index", "--name", "n"], [
        ("--batch-size", "0"), ("--batch-size", "-1"), ("--max-length", "0"), ("--alpha", "1.5"), ("--alpha", "-0.1"),
        ("--alpha", "nan"),
    ]),
    "perturb": (["perturb", "--protocol", "rate"], [
        ("--variants", "0"), ("--variants", "100000"), ("--rate", "0"), ("--rate", "1.5"), ("--rate", "nan"),
        ("--max-edits", "0"), ("--seed", "-1"),
    ]),
    "ingest locomo": (["ingest", "locomo", "small.json"], [
        ("--test-fraction", "0"), ("--test-fraction", "1.5"), ("--test-fraction", "nan"), ("--seed", "-1"),
    ]),
    "generate queries": (["generate", "queries", "--backend", "lexicon"], [
        ("--per-lang", "0"), ("--top-k", "-1"), ("--max-new-tokens", "0"), ("--batch-size", "0"), ("--seed", "-1"),
        ("--limit", "0"),
    ]),
    "generate translations": (["generate", "translations", "--model", "m", "--to", "es"], [
        ("--num-beams", "0"), ("--max-new-tokens", "0"), ("--batch-size", "0"), ("--batch-size", "-1"),
    ]),
    "train": (["train", "--name", "t"], [
        ("--steps", "0"), ("--steps", "-1"), ("--epochs", "0"), ("--epochs", "inf"), ("--batch-size", "1"),
        ("--lr", "0"), ("--lr", "nan"), ("--lr", "-0.5"), ("--warmup", "1"), ("--warmup", "-0.1"),
        ("--temperature", "0"), ("--temperature", "inf"), ("--typo-aware", "1.5"), ("--typo-aware", "nan"),
        ("--align-weight", "-1"), ("--weight-decay", "-0.01"), ("--max-grad-norm", "0"), ("--max-length", "4"),
        ("--grad-accum", "0"), ("--negatives-per-query", "0"), ("--seed", "-1"), ("--save-every", "0"),
        ("--code-switch", "1"), ("--code-switch", "-0.1"), ("--code-switch-queries", "0"), ("--xl-teaching", "-1"),
        ("--xl-teaching", "nan"), ("--typo-contrast", "-1"), ("--typo-positives", "0"), ("--typo-positives", "17"),
    ]),
    "rewrite": (["rewrite", "--name", "r", "--backend", "mt", "--model", "m", "--langs", "es"], [
        ("--num-beams", "0"), ("--max-new-tokens", "0"), ("--batch-size", "0"), ("--translations", "0"), ("--translations", "-2"),
    ]),
}
NUMERIC_CASES = [pytest.param(base, option, value, id=f"{command}:{option}={value}")
                 for command, (base, values) in NUMERIC.items() for option, value in values]


@pytest.mark.parametrize(("base", "option", "value"), NUMERIC_CASES)
def test_a_numeric_option_out_of_range_is_refused_at_parse_time(store, base, option, value):
    before = snapshot(store)
    result = Cli(store)(*base, option, value, ok=False)
    assert_refused(result, store, before, f"{option.lstrip('-')} {value}: ")


# --- values that reach the library ------------------------------------------------------------------


def test_eval_library_refuses_a_batch_size_below_one_before_writing(store):
    from xlcli.eval.runner import evaluate
    from xlcli.store import open_store

    before = snapshot(store)
    for bad in (0, -1):
        with open_store(store) as s, pytest.raises(XlcliError, match="--batch-size"):
            evaluate(s, ["bm"], batch_size=bad, show_progress=False)
        assert snapshot(store) == before


@pytest.mark.parametrize(("field", "value"), [
    ("lr", math.nan), ("temperature", math.inf), ("epochs", math.inf), ("warmup", math.nan), ("seed", -1), ("seed", 2**63),
])
def test_train_config_refuses_non_finite_and_out_of_range_values(field, value):
    from xlcli.train.config import TrainConfig

    with pytest.raises(XlcliError):
        TrainConfig(name="t", **{field: value}).validated()


@pytest.mark.parametrize("device", ["bogus", "cuda:x"])
def test_eval_with_a_wrong_device_leaves_no_failed_invocation(store, tiny_bert, device):
    Cli(store)("index", "--name", "tiny", "--model", tiny_bert, "--device", "cpu")
    before = snapshot(store)
    result = Cli(store)("eval", "--index", "tiny", "--device", device, ok=False)
    assert_refused(result, store, before, f"--device {device}")


@pytest.mark.parametrize(("kwargs", "message"), [({"num_beams": 0}, "--num-beams 0"), ({"max_new_tokens": -1}, "--max-new-tokens -1")])
def test_translator_refuses_counts_below_one(kwargs, message):
    from xlcli.generate.translate import Translator

    with pytest.raises(XlcliError, match=message):
        Translator(None, None, "cpu", **kwargs)


def test_generation_plan_refuses_a_limit_below_one_before_writing(store):
    from xlcli.generate.runner import plan
    from xlcli.store import open_store

    before = snapshot(store)
    with open_store(store) as s, pytest.raises(XlcliError, match="--limit 0"):
        plan(s, None, backend="lexicon", model=None, langs=["es"], params={}, requested_name=None, derived_name="x", limit=0)
    assert snapshot(store) == before


# --- files ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileCase:
    id: str
    make: Callable[[Path], list[str]]  # (tmp dir) -> argv
    expect: str


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


FILE_CASES = [
    FileCase("translations TSV with a field over csv's limit",
             lambda d: ["ingest", "translations", _write(d / "big.tsv", "conv-a/q1\tes\t" + "x" * 200_000 + "\n")],
             "field larger than field limit"),
    FileCase("pipeline db = 5",
             lambda d: ["pipeline", "run", _write(d / "p.toml", 'db = 5\n[[step]]\nrun = "status"\n')], "db must be a file path"),
    FileCase("pipeline db = []",
             lambda d: ["pipeline", "run", _write(d / "p.toml", 'db = []\n[[step]]\nrun = "status"\n')], "db must be a file path"),
    FileCase("pipeline file not UTF-8",
             lambda d: ["pipeline", "run", _write(d / "p.toml", b'[[step]]\nrun = "status"\n# \xff\xfe latin-1 \xe9\n')],
             "not UTF-8"),
    FileCase("pipeline steps that are not tables",
             lambda d: ["pipeline", "run", _write(d / "p.toml", "step = [1, 2]\n")], "step 1 is not a table"),
    FileCase("pipeline step with a number out of range",
             lambda d: ["pipeline", "run", _write(d / "p.toml", '[[step]]\nrun = "status"\n[[step]]\nrun = "eval"\nindex = "bm"\nbatch-size = 0\n')],
             "p.toml:3: step 'eval': --batch-size 0: must be at least 1"),
    FileCase("pipeline step with a value of the wrong type",
             lambda d: ["pipeline", "run", _write(d / "p.toml", '[[step]]\nrun = "eval"\nindex = "bm"\ndepth = "deep"\n')],
             "step 'eval': Invalid value for '--depth'"),
    FileCase("pipeline step without a required option",
             lambda d: ["pipeline", "run", _write(d / "p.toml", '[[step]]\nrun = "status"\n[[step]]\nrun = "search"\nquery = "dog"\n')],
             "step 'search': Missing option '--index'"),
    FileCase("pipeline status db = 5",
             lambda d: ["pipeline", "status", _write(d / "p.toml", 'db = 5\n[[step]]\nrun = "status"\n')], "db must be"),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_a_bad_file_is_refused(store, tmp_path, case):
    argv = case.make(tmp_path)
    before = snapshot(store)
    result = Cli(store)(*argv, ok=False)
    assert_refused(result, store, before, case.expect)


# --- broken model folders, given to index --model and train --base -----------------------------------

BROKEN_MODELS = {
    "modules.json malformed": ({"modules.json": '[{"type": "sentence_transformers.models.Pooling",'}, "not valid JSON"),
    "modules.json an object": ({"modules.json": '{"type": "sentence_transformers.models.Pooling"}'}, "expected a list"),
    "modules.json a list of numbers": ({"modules.json": "[1, 2]"}, "expected a list"),
    "modules.json path not a string": ({"modules.json": '[{"type": "x.Pooling", "path": 5}]'}, "expected a list"),
    "pooling config a list": ({"modules.json": '[{"type": "x.Pooling", "path": "1_Pooling"}]', "1_Pooling/config.json": "[]"},
                              "expected a JSON object"),
    "max_seq_length abc": ({"modules.json": "[]", "sentence_bert_config.json": '{"max_seq_length": "abc"}'},
                           "max_seq_length should be a positive whole number"),
    "max_seq_length negative": ({"modules.json": "[]", "sentence_bert_config.json": '{"max_seq_length": -4}'},
                                "max_seq_length should be a positive whole number"),
    "sentence_bert_config a list": ({"modules.json": "[]", "sentence_bert_config.json": "[128]"}, "expected a JSON object"),
    "config.json a list": ({"config.json": "[1, 2, 3]"}, "expected a JSON object"),
    "config.json malformed": ({"config.json": '{"model_type": '}, "not valid JSON"),
    "modules.json not UTF-8": ({"modules.json": b"[\xff]"}, "not UTF-8"),
}
MODEL_CASES = [pytest.param(files, expect, how, id=f"{how}:{name}")
               for name, (files, expect) in BROKEN_MODELS.items() for how in ("index --model", "train --base")]


@pytest.mark.parametrize(("files", "expect", "how"), MODEL_CASES)
def test_a_broken_model_folder_is_refused(store, tmp_path, tiny_bert, files, expect, how):
    model = shutil.copytree(tiny_bert, tmp_path / "model")
    for name, content in files.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        _write(model / name, content)
    argv = (["index", "--name", "broken", "--model", model, "--device", "cpu"] if how == "index --model"
            else ["train", "--name", "broken", "--base", model, "--steps", "1", "--device", "cpu"])
    before = snapshot(store)
    result = Cli(store)(*argv, ok=False)
    assert_refused(result, store, before, expect)


# --- an unknown hub id with the hub out of reach ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:  # bound and closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["unreachable endpoint", "HF_HUB_OFFLINE"])
@pytest.mark.parametrize("command", ["index", "generate translations"])
def test_an_unknown_hub_id_offline_fails_at_once_in_one_line(store, tmp_path, how, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    if how == "HF_HUB_OFFLINE":
        env["HF_HUB_OFFLINE"] = "1"
    argv = (["index", "--name", "x", "--model", "no-such-org/no-such-model"] if command == "index"
            else ["generate", "translations", "--model", "no-such-org/no-such-mt", "--to", "es"])
    before = snapshot(store)
    proc = subprocess.run([sys.executable, "-m", "xlcli", "--db", str(store), *argv],
                          capture_output=True, text=True, env=env, timeout=120)
    line = assert_refused(Outcome.of(proc), store, before, "Error: model no-such-org/")
    assert line.startswith("Error: model no-such-org/") and "not in the local Hugging Face cache" in line
