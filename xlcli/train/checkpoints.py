"""Checkpoints: Hugging Face model folders that are also sentence-transformers models.

``<store dir>/xlcli-models/<run>/step-<n>/`` holds ``config.json``, ``model.safetensors``, the
tokenizer, and the sentence-transformers modules (``modules.json``, ``1_Pooling``, ``2_Normalize``,
``sentence_bert_config.json``), so ``xlcli index --model``, ``SentenceTransformer(path)`` and
``AutoModel.from_pretrained(path)`` all load it with the pooling it was trained with.

The newest checkpoint also holds ``trainer_state.pt`` (optimizer, scheduler, RNG states, step):
what a killed run needs to continue exactly where an uninterrupted one would be. A checkpoint is
written into a hidden temporary folder and renamed into place, and ``xlcli_checkpoint.json`` is
its last file, so a run killed mid-save leaves either the whole checkpoint or none of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from xlcli.encoders import EncoderConfig
from xlcli.errors import XlcliError

MODELS_DIR = "xlcli-models"
STATE_FILE = "trainer_state.pt"
MARKER = "xlcli_checkpoint.json"


def models_dir(store_path: Path) -> Path:
    """The folder beside the store where trained models live."""
    return Path(store_path).resolve().parent / MODELS_DIR


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"step-{step}"


def write_sentence_transformers_files(directory: Path, config: EncoderConfig, dim: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if config.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (directory / "2_Normalize").mkdir(exist_ok=True)
    (directory / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (directory / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": config.pooling == "cls",
        "pooling_mode_mean_tokens": config.pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), encoding="utf-8")
    bert_config = {"max_seq_length": config.max_length, "do_lower_case": False}
    (directory / "sentence_bert_config.json").write_text(json.dumps(bert_config, indent=2), encoding="utf-8")


def save(run_dir: Path, step: int, model, tokenizer, config: EncoderConfig, dim: int, *,
         trainer_state: dict | None, meta: dict) -> Path:
    """Write checkpoint ``step`` atomically; return its folder."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our bar is on stderr already
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final, tmp = step_dir(run_dir, step), run_dir / f".step-{step}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    write_sentence_transformers_files(tmp, config, dim)
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    (tmp / MARKER).write_text(json.dumps({**meta, "step": step}, indent=2, sort_keys=True), encoding="utf-8")
    if final.exists():  # the same step saved again after a resume: replace it whole
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def is_complete(directory: Path) -> bool:
    return (directory / MARKER).is_file() and (directory / "config.json").is_file()


def saved_steps(run_dir: Path) -> list[int]:
    """Steps with a complete checkpoint in ``run_dir``, ascending."""
    steps = []
    if Path(run_dir).is_dir():
        for child in Path(run_dir).iterdir():
            if child.name.startswith("step-") and child.name[5:].isdigit() and is_complete(child):
                steps.append(int(child.name[5:]))
    return sorted(steps)


def latest_resumable(run_dir: Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint that carries a trainer state, if any."""
    for step in reversed(saved_steps(run_dir)):
        directory = step_dir(run_dir, step)
        if (directory / STATE_FILE).is_file():
            return step, directory
    return None


def load_state(directory: Path) -> dict:
    import torch

    # Our own file, holding RNG states (numpy arrays, Python tuples) besides tensors.
    return torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=False)


def load_weights_into(model, directory: Path) -> None:
    """Copy a checkpoint's weights into ``model`` (same architecture), exactly."""
    import torch
    from transformers import AutoModel

    loaded = AutoModel.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise XlcliError(f"checkpoint {directory} does not match the model being trained (missing {missing[:3]}, unexpected {unexpected[:3]})")


def drop_older_states(run_dir: Path, keep_step: int) -> None:
    """Trainer states are large (2× the weights for AdamW) and only the newest is needed."""
    for step in saved_steps(run_dir):
        state = step_dir(run_dir, step) / STATE_FILE
        if step != keep_step and state.exists():
            state.unlink()
