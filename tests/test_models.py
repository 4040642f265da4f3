"""The model registry: resolving --model, reading sentence-transformers settings, registering rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from xlcli.errors import XlcliError
from xlcli.models import register_model, resolve_model
from xlcli.store import open_store


@pytest.fixture
def store(db: Path):
    with open_store(db) as s:
        yield s


def test_default_is_the_packaged_minilm_with_its_sentence_transformers_settings(store):
    row, settings = resolve_model(store, "default")
    assert row is None
    assert (settings.name, settings.source, settings.pooling, settings.normalize) == ("default", "package", "mean", True)
    assert settings.max_length == 256  # sentence_bert_config.json of all-MiniLM-L6-v2
    assert (Path(settings.path) / "config.json").is_file()


def test_local_directory_takes_pooling_from_the_flag(store, tiny_bert):
    _, settings = resolve_model(store, str(tiny_bert), pooling="cls", query_prefix="query: ", max_length=64)
    assert (settings.source, settings.pooling, settings.query_prefix, settings.max_length) == ("path", "cls", "query: ", 64)
    assert settings.path == str(tiny_bert.resolve())
    assert resolve_model(store, str(tiny_bert))[1].pooling == "mean"


def test_sentence_transformers_config_wins_and_a_contradicting_flag_is_an_error(store, tiny_bert, tmp_path):
    model = tmp_path / "st-model"
    shutil.copytree(tiny_bert, model)
    (model / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    _, settings = resolve_model(store, str(model))
    assert (settings.pooling, settings.normalize) == ("cls", False)  # no Normalize module
    with pytest.raises(XlcliError, match="sentence-transformers config with cls pooling"):
        resolve_model(store, str(model), pooling="mean")


@pytest.mark.parametrize("problem", ["missing", "file", "no-config", "no-tokenizer"])
def test_bad_model_paths_are_one_line_errors(store, tiny_bert, tmp_path, problem):
    target = tmp_path / "model"
    if problem == "file":
        target.write_text("not a model")
    elif problem == "no-config":
        target.mkdir()
        (target / "vocab.txt").write_text("[PAD]\n")
    elif problem == "no-tokenizer":
        target.mkdir()
        shutil.copy(tiny_bert / "config.json", target)
        shutil.copy(tiny_bert / "model.safetensors", target)
    with pytest.raises(XlcliError) as info:
        resolve_model(store, str(target))
    assert "\n" not in str(info.value)
    if problem == "no-tokenizer":
        assert "no tokenizer" in str(info.value)


def test_register_reuses_identical_rows_and_suffixes_other_settings(store, tiny_bert):
    _, plain = resolve_model(store, str(tiny_bert))
    _, prefixed = resolve_model(store, str(tiny_bert), query_prefix="query: ", passage_prefix="passage: ")
    with store.write() as conn:
        a = register_model(conn, plain, 32)
        assert register_model(conn, plain, 32) == a
        b = register_model(conn, prefixed, 32)
        assert b != a
        with pytest.raises(XlcliError, match="dimension"):
            register_model(conn, plain, 48)
    with store.read() as conn:
        names = dict(conn.exec_driver_sql("SELECT id, name FROM models").all())
    assert names[a] == plain.name and names[b].startswith(plain.name + "@")
    # A registered name resolves to the row and its settings, prefixes included.
    row, again = resolve_model(store, names[b])
    assert row["id"] == b and again == prefixed.__class__(**{**prefixed.__dict__, "name": names[b]})
    with pytest.raises(XlcliError, match="registered with mean pooling"):
        resolve_model(store, names[b], pooling="cls")


def test_checkpoint_rows_resolve_by_name(store, tiny_bert):
    _, settings = resolve_model(store, str(tiny_bert), pooling="cls")
    from dataclasses import replace

    checkpoint = replace(settings, name="my-run/step-10", source="checkpoint")
    with store.write() as conn:
        model_id = register_model(conn, checkpoint, 32, step=10)
    row, resolved = resolve_model(store, "my-run/step-10")
    assert row["id"] == model_id and resolved.source == "checkpoint" and resolved.pooling == "cls"
    assert resolved.load("cpu").dim == 32
