"""Plain records the readers produce and :mod:`xlcli.ingest` writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Passage:
    ext_id: str
    text: str
    lang: str
    scope: str | None = None
    unit: str = "passage"
    title: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Query:
    ext_id: str
    text: str
    lang: str
    split: str
    scope: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Qrel:
    query_ext_id: str
    passage_ext_id: str
    relevance: int = 1


@dataclass
class Notes:
    """What a reader normalised or dropped, with reasons, for the summary printed after ingest."""

    normalised: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def normalise(self, reason: str, example: str) -> None:
        self.normalised[reason] += 1
        self.examples.setdefault(reason, example)

    def drop(self, reason: str, example: str) -> None:
        self.dropped[reason] += 1
        self.examples.setdefault(reason, example)

    def as_dict(self) -> dict:
        return {
            "normalised": {k: {"count": v, "example": self.examples[k]} for k, v in sorted(self.normalised.items())},
            "dropped": {k: {"count": v, "example": self.examples[k]} for k, v in sorted(self.dropped.items())},
        }


@dataclass
class Collection:
    """Everything one benchmark file yields."""

    kind: str
    lang: str
    passages: list[Passage]
    queries: list[Query]
    qrels: list[Qrel]
    notes: Notes = field(default_factory=Notes)
    metadata: dict = field(default_factory=dict)
