"""train --precision: bfloat16 mixed precision on the CPU, recorded in the run's key; refusals."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from conftest import assert_refused, rows, snapshot

from xlcli.encoders import PRECISIONS, precision_missing

TINY_ARGS = ("--batch-size", "4", "--max-length", "32", "--lr", "1e-3", "--steps", "2")
needs_bf16 = pytest.mark.skipif(precision_missing("bf16", "cpu") is not None,
                                reason="this CPU has no native bfloat16 (train refuses bf16 here, tested below)")


def _run(db, name: str) -> tuple[dict, list[float]]:
    config, key = rows(db, f"SELECT config_json, key FROM training_runs WHERE name = '{name}'")[0]
    losses = [loss for (loss,) in rows(db, "SELECT l.loss FROM training_log l JOIN training_runs r ON r.id = l.training_run_id"
                                           f" WHERE r.name = '{name}' AND l.objective = 'total' ORDER BY l.step")]
    return {**json.loads(config), "key": key}, losses


@needs_bf16
def test_bf16_steps_compute_otherwise_and_make_another_run(small_store, db, tiny_bert):
    small_store("train", "--name", "full", "--base", tiny_bert, *TINY_ARGS)
    result = small_store("train", "--name", "mixed", "--base", tiny_bert, *TINY_ARGS, "--precision", "bf16")
    assert "in bf16" in result.output
    full, full_losses = _run(db, "full")
    mixed, mixed_losses = _run(db, "mixed")
    assert full["precision"] == "auto" and mixed["precision"] == "bf16"
    assert full["key"] != mixed["key"]
    # Same seed, data and weights at step 1: only the arithmetic differs, so the first loss moves a little.
    assert all(math.isfinite(x) for x in mixed_losses)
    assert mixed_losses[0] != full_losses[0]
    assert mixed_losses[0] == pytest.approx(full_losses[0], rel=1e-2)


def test_auto_keeps_the_key_a_run_had_before_the_option(small_store, db, tiny_bert):
    from xlcli.train.config import TrainConfig

    small_store("train", "--name", "plain", "--base", tiny_bert, *TINY_ARGS)
    config, _ = _run(db, "plain")
    assert "precision" not in TrainConfig(name="x", base="y").key_params()  # auto is left out, as --device is
    assert "precision" in TrainConfig(name="x", base="y", precision="fp32").key_params()
    # Naming the default explicitly is the same run: nothing to do.
    again = small_store("train", "--name", "plain", "--base", tiny_bert, *TINY_ARGS, "--precision", "auto")
    assert "nothing to do" in again.output.lower()
    assert config["precision"] == "auto"


def test_a_run_resumed_in_another_precision_is_refused(small_store, db, tiny_bert):
    small_store("train", "--name", "mine", "--base", tiny_bert, *TINY_ARGS)
    before = snapshot(db)
    result = small_store("train", "--name", "mine", "--base", tiny_bert, *TINY_ARGS, "--precision", "fp32", ok=False)
    assert_refused(result, db, before, "precision: 'auto' → 'fp32'")


@pytest.mark.parametrize("value, message", [("fp16", "loss scaling"), ("fp8", "use one of auto, fp32, bf16")])
def test_unknown_or_unsupported_formats_are_refused_at_parse_time(small_store, db, tiny_bert, value, message):
    before = snapshot(db)
    result = small_store("train", "--name", "bad", "--base", tiny_bert, *TINY_ARGS, "--precision", value, ok=False)
    assert_refused(result, db, before, message)


def test_bf16_where_the_cpu_cannot_compute_it_is_refused_before_any_write(small_store, db, tiny_bert, monkeypatch):
    monkeypatch.setitem(PRECISIONS, "bf16", replace(PRECISIONS["bf16"], missing=lambda device: "no bfloat16 here"))
    before = snapshot(db)
    result = small_store("train", "--name", "bad", "--base", tiny_bert, *TINY_ARGS, "--precision", "bf16", ok=False)
    assert_refused(result, db, before, "--precision bf16 on cpu: no bfloat16 here")
