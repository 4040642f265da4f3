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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import ClassVar

from xlcli.errors import XlcliError
from xlcli.store.invocations import params_key
from xlcli.train.sources import PairSource

TRAIN_SPLIT = "train"
DEFAULT_WEIGHT = 1.0  # the mixing weight of a source given without one, when others have one
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# One check per numeric parameter: read by TrainConfig.validated() and, through
# xlcli/commands/train.py, by the parser (so `train --lr nan` is refused before the store opens).
CHECKS: dict[str, tuple[Callable[[float], bool], str]] = {
    "typo_aware": (lambda v: 0.0 <= v <= 1.0, "give a probability between 0 and 1 (the papers use 0.5)"),
    "align_weight": (lambda v: v >= 0, "give a weight >= 0"),
    "epochs": (lambda v: 0 < v <= 10_000, "give a positive number of passes (at most 10,000)"),
    "steps": (lambda v: 1 <= v <= 10_000_000, "give 1 to 10,000,000 steps"),
    "batch_size": (lambda v: 2 <= v <= 100_000, "in-batch negatives need at least 2 (and at most 100,000 fit a batch)"),
    "lr": (lambda v: 0 < v <= 1, "give a positive learning rate (at most 1)"),
    "warmup": (lambda v: 0.0 <= v < 1.0, "give the warm-up as a fraction of the steps, in [0, 1)"),
    "temperature": (lambda v: 0 < v <= 100, "give a positive temperature (at most 100)"),
    "max_length": (lambda v: 8 <= v <= 100_000, "give at least 8 tokens (at most 100,000)"),
    "grad_accum": (lambda v: 1 <= v <= 100_000, "give 1 to 100,000 micro-batches"),
    "weight_decay": (lambda v: v >= 0, "give a value >= 0"),
    "max_grad_norm": (lambda v: v > 0, "give a positive norm"),
    "negatives_per_query": (lambda v: 1 <= v <= 1000, "give 1 to 1,000"),
    "seed": (lambda v: 0 <= v < 2**63, "give a whole number from 0 to 2**63 - 1"),
    "save_every": (lambda v: v >= 1, "give at least 1"),
    "code_switch": (lambda v: 0.0 <= v < 1.0, "give the fraction of words to switch, in [0, 1) (CoSDA-ML uses 0.3-0.5)"),
    "code_switch_queries": (lambda v: 0.0 < v <= 1.0, "give the fraction of English questions to switch, in (0, 1]"),
    "xl_teaching": (lambda v: v >= 0, "give a weight >= 0 (0 = off)"),
    "typo_contrast": (lambda v: v >= 0, "give a weight >= 0 (0 = off)"),
    "typo_positives": (lambda v: 1 <= v <= 16, "give 1 to 16 misspelled variants per query"),
}


def check_value(name: str, value) -> None:
    """One parameter against :data:`CHECKS` (None — not given — passes); nan and inf never pass."""
    if value is None:
        return
    flag = "--" + name.replace("_", "-")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise XlcliError(f"{flag} {shown}: give a finite number")
    accepts, why = CHECKS[name]
    if not accepts(value):
        raise XlcliError(f"{flag} {shown}: {why}")


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
    typo_aware: float | None = None  # None: 0.5 with self_teaching (Zhuang & Zuccon 2022), else 0.0
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
    # Cross-lingual objectives (issue 13); left out of the key at their defaults, so runs made
    # before they existed keep their keys.
    balance_langs: bool = True  # languages of a weighted source share its weight evenly (else by size)
    lexicons: tuple[tuple[str, str], ...] = ()  # (lang, path) of the en→xx MUSE dictionaries
    code_switch: float = 0.0  # fraction of an English question's words switched (CoSDA-ML)
    code_switch_queries: float = 0.5  # fraction of English questions that are code-switched
    xl_teaching: float = 0.0  # weight of the cross-lingual self-teaching KL (0 = off)
    teacher: str | None = None  # frozen model whose English scores teach (None = the student itself)
    typo_contrast: float = 0.0  # weight of the multi-positive typo contrast (0 = off)
    typo_positives: int = 2  # misspelled variants per query in the typo contrast
    precision: str = "auto"  # arithmetic of a step (xlcli.train.precision); auto is device-dependent, kept out of the key
    # Not part of the key (see the module docstring).
    save_every: int = 200
    device: str = field(default="auto", compare=False)

    NOT_IN_KEY = ("save_every", "device")
    KEY_IF_SET: ClassVar[dict] = {"balance_langs": True, "lexicons": [], "code_switch": 0.0, "code_switch_queries": 0.5, "xl_teaching": 0.0,
                  "teacher": None, "typo_contrast": 0.0, "typo_positives": 2, "precision": "auto"}

    def validated(self) -> TrainConfig:
        """Check every value (one clear error each); fill the defaults that depend on others."""
        if not _NAME.match(self.name or ""):
            raise XlcliError(f"--name {self.name!r}: use letters, digits, '.', '_' or '-' (it names a folder and models)")
        if self.typo_aware is None:  # self-teaching learns from misspelled queries: make some by default
            return replace(self, typo_aware=0.5 if self.self_teaching else 0.0).validated()
        if self.epochs is not None and self.steps is not None:
            raise XlcliError("give either --epochs or --steps, not both")
        from xlcli.train.precision import check_name

        check_name(self.precision)
        for name in CHECKS:
            check_value(name, getattr(self, name))
        cross_lingual = [
            (self.code_switch == 0.0 or bool(self.lexicons),
             "--code-switch needs the dictionaries of the languages to switch into: give --lexicon LANG=PATH (e.g. es=muse/en-es.txt)"),
            (self.teacher is None or self.xl_teaching > 0, "--teacher scores the English side of --xl-teaching: give --xl-teaching W too"),
        ]
        for ok, message in cross_lingual:
            if not ok:
                raise XlcliError(message)
        from xlcli.train.translate import check_languages

        for source in self.pairs:
            if source.kind == "translated":
                check_languages(tuple(lang for lang, _ in self.lexicons), source.langs, f"--pairs {source.spec}")
        if self.self_teaching and self.typo_aware == 0.0:
            raise XlcliError("--self-teaching needs misspelled queries: give --typo-aware P (the paper uses 0.5)")
        if self.typo_aware > 0.0 or self.typo_contrast > 0.0:
            from xlcli.train.typos import check_protocol

            check_protocol(self.typo_protocol)
        return replace(self, epochs=1.0 if self.epochs is None and self.steps is None else self.epochs)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["pairs"] = [source.spec for source in self.pairs]
        data["parallel"] = list(self.parallel)
        data["lexicons"] = [f"{lang}={path}" for lang, path in self.lexicons]
        return data

    def key_params(self) -> dict:
        return {k: v for k, v in self.as_dict().items()
                if k not in self.NOT_IN_KEY and not (k in self.KEY_IF_SET and v == self.KEY_IF_SET[k])}

    def objectives(self) -> str:
        """The recipe in a few words, for the report's system description and the CLI."""
        return recipe(self.as_dict())

    @property
    def key(self) -> str:
        return params_key(self.key_params())


def recipe(config: dict) -> str:
    """A training run's recipe in a few words, from its stored ``config_json`` (or :meth:`TrainConfig.as_dict`)."""
    get = config.get
    parts = [",".join(get("pairs") or [])]
    if get("typo_aware"):
        parts.append(f"typo-aware {get('typo_aware'):g}")
    if get("self_teaching"):
        parts.append("self-teaching")
    if get("code_switch"):
        parts.append(f"code-switch {get('code_switch'):g}")
    if get("xl_teaching"):
        parts.append(f"xl-teaching {get('xl_teaching'):g}" + (f" from {get('teacher')}" if get("teacher") else ""))
    if get("typo_contrast"):
        parts.append(f"typo-contrast {get('typo_contrast'):g}×{get('typo_positives', 2)}")
    if get("parallel") or get("align_pairs"):
        parts.append(f"align {get('align_weight', 1.0):g}")
    if get("hard_negatives"):
        parts.append(f"hard negatives {get('hard_negatives')}")
    if get("steps"):
        parts.append(f"{get('steps')} steps × {get('batch_size')}")
    return "; ".join(parts)
