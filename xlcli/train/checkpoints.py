"""Checkpoints: Hugging Face model folders that are also sentence-transformers models.

``<store dir>/xlcli-models/<run>/step-<n>/`` holds ``config.json``, ``model.safetensors``, the
tokenizer, and the sentence-transformers modules (``modules.json``, ``1_Pooling``, ``2_Normalize``,
``sentence_bert_config.json``), so ``xlcli index --model``, ``SentenceTransformer(path)`` and
``AutoModel.from_pretrained(path)`` all load it with the pooling it was trained with.

The newest checkpoint also holds the trainer state (optimizer, scheduler, RNG states, step): what a
killed run needs to continue exactly where an uninterrupted one would be. It is stored so that
loading it runs no code: its tensors in ``trainer_state.safetensors``, everything else (counters,
scheduler, Python's and numpy's generators, the optimizer's hyper-parameters) in
``trainer_state.json`` — never a pickle, which a planted file could use to run its payload. The
run's key in ``xlcli_checkpoint.json`` is checked (:func:`check_run`) before anything else of a
checkpoint folder is read. A checkpoint is
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
STATE_FILE = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_STATE = "trainer_state.pt"  # a pickle (earlier xlcli versions wrote it): never loaded
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
        save_state(tmp, trainer_state)
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


def read_meta(directory: Path) -> dict:
    path = Path(directory) / MARKER
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise XlcliError(f"{path}: not an xlcli checkpoint marker ({exc})") from None
    if not isinstance(meta, dict):
        raise XlcliError(f"{path}: not an xlcli checkpoint marker (a JSON object is expected)")
    return meta


def check_run(run_dir: Path, key: str, total_steps: int) -> None:
    """Refuse a run folder whose checkpoints belong to another run (or hold a pickle).

    Only JSON (the markers, the newest trainer state's document) and a safetensors header are
    read, before any weights or tensors: a folder planted or left by a run with other parameters
    is refused before it can influence — or run code in — this one, and before the run records
    anything in the store.
    """
    for step in saved_steps(run_dir):
        directory = step_dir(run_dir, step)
        meta = read_meta(directory)
        if meta.get("key") != key or meta.get("total_steps") != total_steps:
            raise XlcliError(f"{run_dir} holds checkpoints of a run with other parameters; remove the folder or use another --name")
        if (directory / LEGACY_STATE).exists():
            raise XlcliError(f"{directory / LEGACY_STATE} is a pickled trainer state, which xlcli does not load "
                             "(unpickling can run code): delete it (the run then restarts) or use another --name")
    found = latest_resumable(run_dir)
    if found is not None:
        _check_state(found[1], key)


def _check_state(directory: Path, key: str) -> None:
    """The trainer state's JSON and the names in its tensor file's header: cheap, and enough to
    refuse a broken or foreign state before a run records anything (the tensors load later)."""
    from safetensors import SafetensorError, safe_open

    where = Path(directory) / STATE_FILE
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
        with safe_open(str(Path(directory) / STATE_TENSORS), framework="pt") as handle:
            names = set(handle.keys())
    except (OSError, UnicodeDecodeError, ValueError, SafetensorError) as exc:
        raise XlcliError(f"{where}: unreadable trainer state ({exc}); delete the checkpoint folder to restart the run") from None
    state = _state(document, {name: None for name in names}, where)
    if state["key"] != key:
        raise XlcliError(f"{where} belongs to a run with other parameters; remove the folder or use another --name")
    if not any((Path(directory) / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")):
        raise XlcliError(f"checkpoint {directory} has no model.safetensors (xlcli loads weights from safetensors only); "
                         "delete the folder to restart the run")


# The trainer state as JSON plus named tensors. Containers are tagged so that they come back as
# they went in (tuples stay tuples, the optimizer's integer keys stay integers); decoding builds
# nothing but numbers, strings, lists, dicts, tuples, numeric numpy arrays and tensors.
_NUMPY_KINDS = "biuf"
_STATE_KEYS = frozenset({"step", "key", "total_steps", "optimizer", "scheduler", "rng"})


def _encode(value, tensors: dict):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().cpu().contiguous()
        return {"__tensor__": name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise TypeError(f"trainer state: numpy arrays of {value.dtype} are not stored")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"trainer state: cannot store a {type(value).__name__}")


def _decode(value, tensors: dict, where: Path):
    import numpy as np

    if isinstance(value, list):
        return [_decode(v, tensors, where) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        if value["__tensor__"] not in tensors:
            raise XlcliError(f"{where}: tensor {value['__tensor__']!r} is missing from {STATE_TENSORS}")
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        dtype = np.dtype(str(value.get("dtype")))
        if dtype.kind not in _NUMPY_KINDS:
            raise XlcliError(f"{where}: unexpected array type {dtype}")
        return np.array(value["__ndarray__"], dtype=dtype)
    if "__tuple__" in value:
        return tuple(_decode(v, tensors, where) for v in value["__tuple__"])
    if "__items__" in value:
        return {_hashable(_decode(k, tensors, where), where): _decode(v, tensors, where) for k, v in value["__items__"]}
    raise XlcliError(f"{where}: not an xlcli trainer state")


def _hashable(key, where: Path):
    if isinstance(key, list | dict):
        raise XlcliError(f"{where}: not an xlcli trainer state")
    return key


def save_state(directory: Path, state: dict) -> None:
    from safetensors.torch import save_file

    tensors: dict = {}
    document = _encode(state, tensors)
    save_file(tensors, str(Path(directory) / STATE_TENSORS))
    (Path(directory) / STATE_FILE).write_text(json.dumps(document), encoding="utf-8")


def load_state(directory: Path) -> dict:
    """The trainer state saved by :func:`save_state` — JSON and safetensors only, no unpickling."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    where = Path(directory) / STATE_FILE
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
        tensors = load_file(str(Path(directory) / STATE_TENSORS), device="cpu")
    except (OSError, UnicodeDecodeError, ValueError, SafetensorError) as exc:
        raise XlcliError(f"{where}: unreadable trainer state ({exc}); delete the checkpoint folder to restart the run") from None
    return _state(document, tensors, where)


def _state(document, tensors: dict, where: Path) -> dict:
    try:
        state = _decode(document, tensors, where)
    except (TypeError, ValueError):  # a hand-made document: unhashable keys, ragged arrays, odd dtypes
        state = None
    if not isinstance(state, dict) or not _STATE_KEYS <= state.keys():
        raise XlcliError(f"{where}: not an xlcli trainer state")
    return state


def load_weights_into(model, directory: Path) -> None:
    """Copy a checkpoint's weights into ``model`` (same architecture), exactly."""
    import torch
    from transformers import AutoModel

    # Our checkpoints are safetensors; a folder without them is not loaded (a .bin is a pickle).
    try:
        loaded = AutoModel.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False,
                                           use_safetensors=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise XlcliError(f"checkpoint {directory}: cannot load its weights ({str(exc).strip().splitlines()[0][:300]})") from None
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise XlcliError(f"checkpoint {directory} does not match the model being trained (missing {missing[:3]}, unexpected {unexpected[:3]})")


def drop_older_states(run_dir: Path, keep_step: int) -> None:
    """Trainer states are large (2× the weights for AdamW) and only the newest is needed."""
    for step in saved_steps(run_dir):
        if step != keep_step:
            for name in (STATE_FILE, STATE_TENSORS):
                (step_dir(run_dir, step) / name).unlink(missing_ok=True)
