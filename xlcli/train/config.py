"""The parameters of a training run: parsed, validated, and hashed into the run's key.

A run is identified by its name; its *key* is a hash of everything that changes the trained
weights. Re-running a name with the same key resumes it (or finds it finished); with another
key it is refused, because two different models must not share a name and a checkpoint folder.
``--device`` and ``--save-every`` change where and how often, not what is computed, so they are
recorded but left out of the key (a run interrupted on a GPU may be finished on a CPU).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace

from xlcli import languages
from xlcli.errors import XlcliError
from xlcli.store.invocations import params_key

PAIR_KINDS = ("queries", "generated")
TRAIN_SPLIT = "train"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PairSource:
    """``queries:en,es`` (ingested queries and their human translations) or ``generated[@RUN]:es,de``."""

    kind: str
    langs: tuple[str, ...]
    run: str | None = None  # a generator run name; None = every generator run of the dataset

    @property
    def spec(self) -> str:
        run = f"@{self.run}" if self.run else ""
        return f"{self.kind}{run}:{','.join(self.langs)}"


def parse_pair_sources(value: str) -> tuple[PairSource, ...]:
    """Parse ``queries:en,es,generated:es,de`` (``|``, ``;`` or spaces also separate sources).

    A token with a colon opens a source; bare tokens after it are more languages of that source.
    """
    tokens = [t.strip() for t in re.split(r"[,|;\s]+", value or "") if t.strip()]
    if not tokens:
        raise XlcliError("--pairs: give at least one source, e.g. queries:en,es or generated:es,de")
    sources: list[list] = []
    for token in tokens:
        if ":" in token:
            head, lang = token.split(":", 1)
            kind, _, run = head.partition("@")
            if kind not in PAIR_KINDS:
                raise XlcliError(f"--pairs {token}: unknown source {kind!r} (use {' or '.join(PAIR_KINDS)}, e.g. queries:en,es)")
            if run and kind != "generated":
                raise XlcliError(f"--pairs {token}: only generated sources name a run (generated@RUN:es)")
            sources.append([kind, [], run or None])
            token = lang
            if not token:
                continue
        if not sources:
            raise XlcliError(f"--pairs {value}: start with a source, e.g. queries:{token}")
        code = languages.check(token, where=f"--pairs {sources[-1][0]}")
        if code not in sources[-1][1]:
            sources[-1][1].append(code)
    merged: dict[tuple, list[str]] = {}
    for kind, langs, run in sources:
        if not langs:
            raise XlcliError(f"--pairs {kind}: give its languages, e.g. {kind}:en,es")
        merged.setdefault((kind, run), [])
        merged[(kind, run)] += [l for l in langs if l not in merged[(kind, run)]]
    return tuple(PairSource(kind, tuple(langs), run) for (kind, run), langs in merged.items())


@dataclass(frozen=True)
class TrainConfig:
    name: str
    base: str = "default"
    dataset: str | None = None
    pairs: tuple[PairSource, ...] = (PairSource("queries", ("en",)),)
    split: str = TRAIN_SPLIT
    parallel: tuple[str, ...] = ()
    hard_negatives: str | None = None
    negatives_per_query: int = 1
    typo_aware: float = 0.0
    typo_protocol: str = "ielab"
    self_teaching: bool = False
    align_weight: float = 1.0
    align_pairs: bool = False
    epochs: float | None = None
    steps: int | None = None
    batch_size: int = 32
    lr: float = 2e-5
    warmup: float = 0.1
    temperature: float = 0.05
    max_length: int = 128
    grad_accum: int = 1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    allow_leakage: bool = False
    # Not part of the key (see the module docstring).
    save_every: int = 200
    device: str = field(default="auto", compare=False)

    NOT_IN_KEY = ("save_every", "device")

    def validated(self) -> TrainConfig:
        """Check every value (one clear error each); fill the defaults that depend on others."""
        floats = {"--typo-aware": self.typo_aware, "--align-weight": self.align_weight, "--lr": self.lr, "--warmup": self.warmup,
                  "--temperature": self.temperature, "--weight-decay": self.weight_decay, "--max-grad-norm": self.max_grad_norm,
                  "--epochs": self.epochs}
        for flag, value in floats.items():  # nan passes every comparison below; inf would never end a run
            if value is not None and not math.isfinite(value):
                raise XlcliError(f"{flag} {value}: give a finite number")
        if not 0 <= self.seed < 2**63:
            raise XlcliError(f"--seed {self.seed}: give a whole number from 0 to 2**63 - 1")
        if not _NAME.match(self.name or ""):
            raise XlcliError(f"--name {self.name!r}: use letters, digits, '.', '_' or '-' (it names a folder and models)")
        if not 0.0 <= self.typo_aware <= 1.0:
            raise XlcliError(f"--typo-aware {self.typo_aware:g}: give a probability between 0 and 1 (the papers use 0.5)")
        if self.epochs is not None and self.steps is not None:
            raise XlcliError("give either --epochs or --steps, not both")
        if self.steps is not None and self.steps < 1:
            raise XlcliError(f"--steps {self.steps}: give at least 1")
        if self.epochs is not None and not self.epochs > 0:
            raise XlcliError(f"--epochs {self.epochs:g}: give a positive number")
        checks = [
            (self.batch_size >= 2, f"--batch-size {self.batch_size}: in-batch negatives need at least 2"),
            (self.lr > 0, f"--lr {self.lr:g}: give a positive learning rate"),
            (0.0 <= self.warmup < 1.0, f"--warmup {self.warmup:g}: give the warm-up as a fraction of the steps, in [0, 1)"),
            (self.temperature > 0, f"--temperature {self.temperature:g}: give a positive temperature"),
            (self.max_length >= 8, f"--max-length {self.max_length}: give at least 8 tokens"),
            (self.grad_accum >= 1, f"--grad-accum {self.grad_accum}: give at least 1"),
            (self.save_every >= 1, f"--save-every {self.save_every}: give at least 1"),
            (self.align_weight >= 0, f"--align-weight {self.align_weight:g}: give a weight >= 0"),
            (self.negatives_per_query >= 1, f"--negatives-per-query {self.negatives_per_query}: give at least 1"),
            (self.max_grad_norm > 0, f"--max-grad-norm {self.max_grad_norm:g}: give a positive norm"),
            (self.weight_decay >= 0, f"--weight-decay {self.weight_decay:g}: give a value >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise XlcliError(message)
        if self.self_teaching and self.typo_aware == 0.0:
            raise XlcliError("--self-teaching needs misspelled queries: give --typo-aware P (the paper uses 0.5)")
        if self.typo_aware > 0.0:
            from xlcli.train.typos import check_protocol

            check_protocol(self.typo_protocol)
        return replace(self, epochs=1.0 if self.epochs is None and self.steps is None else self.epochs)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["pairs"] = [source.spec for source in self.pairs]
        data["parallel"] = list(self.parallel)
        return data

    def key_params(self) -> dict:
        return {k: v for k, v in self.as_dict().items() if k not in self.NOT_IN_KEY}

    @property
    def key(self) -> str:
        return params_key(self.key_params())
