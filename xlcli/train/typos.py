"""Misspelled training queries, made on the fly by :mod:`xlcli.perturb` in each query's language.

Typo-aware training (Zhuang & Zuccon, EMNLP 2021, "Dealing with Typos for BERT-based Passage
Retrieval and Ranking") replaces each training query, with probability *p* (0.5 in the paper),
by a variant with one typo; self-teaching (Zhuang & Zuccon, SIGIR 2022) uses the same variants
as students of the clean queries. A fresh variant is drawn every time a query is seen, so the
model meets many misspellings of one question rather than one fixed variant.

Whether example *j* of micro-batch *m* gets a variant, and which, is a function of
(seed, m, j) alone — so a resumed run draws exactly the misspellings of an uninterrupted one.
"""

from __future__ import annotations

import random

from xlcli.errors import XlcliError
from xlcli.seeding import derive_seed


def check_protocol(protocol: str):
    from xlcli.perturb.protocols import Spec

    try:
        return Spec.make(protocol, variants=1)
    except XlcliError as exc:
        raise XlcliError(f"--typo-protocol: {exc}") from None


class TypoMaker:
    def __init__(self, protocol: str, probability: float, seed: int, langs: list[str]):
        from xlcli.perturb import tables

        self.spec = check_protocol(protocol)
        self.probability, self.seed = probability, seed
        self.tables = {}
        for lang in langs:
            try:
                self.tables[lang] = tables.get(lang)
            except XlcliError as exc:
                raise XlcliError(f"--typo-aware: cannot misspell {lang} queries: {exc}") from None

    def variant(self, text: str, lang: str, micro: int, j: int) -> str | None:
        """A misspelling of ``text`` (with probability p), or None to keep it clean."""
        from xlcli.perturb.protocols import perturb

        draw = random.Random(derive_seed(self.seed, "typo", micro, j))
        if draw.random() >= self.probability:
            return None
        outcome = perturb(text, self.tables[lang], self.spec, draw.getrandbits(62))
        return outcome.variants[0].text if outcome.variants else None  # nothing to misspell: stays clean

    def several(self, text: str, lang: str, micro: int, j: int, n: int) -> list[str]:
        """Up to ``n`` distinct misspellings of ``text`` (always, whatever p), for the multi-positive
        typo contrast; seeded by (seed, micro-batch, example) like :meth:`variant`."""
        from dataclasses import replace

        from xlcli.perturb.protocols import perturb

        outcome = perturb(text, self.tables[lang], replace(self.spec, variants=n), derive_seed(self.seed, "typo-contrast", micro, j))
        return [v.text for v in outcome.variants]

    def variants(self, texts: list[str], langs: list[str], micro: int) -> list[str | None]:
        return [self.variant(t, lang, micro, j) for j, (t, lang) in enumerate(zip(texts, langs))]
