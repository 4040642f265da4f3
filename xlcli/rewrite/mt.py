"""Query translation with a machine-translation model: the machinery of ``generate translations``.

Loading (:func:`xlcli.generate.seq2seq.load_seq2seq`: local directory or hub id, no remote code),
the model family and its target-language token (:func:`xlcli.generate.translate.resolve_targets`:
Marian, multi-target Marian, M2M100, NLLB, mBART-50) and beam-search decoding
(:class:`xlcli.generate.translate.Translator`) are reused as they are. What this module adds is the
other direction of the check: a one-pair Marian model (``opus-mt-es-en``) translates one source
language, so ``--langs de`` with it is refused before anything is written. Beam search is
deterministic, so a resumed run writes the same texts as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xlcli.errors import XlcliError
from xlcli.generate import seq2seq, translate


def check_sources(model: str, family: str, langs: Sequence[str], target: str) -> None:
    pair = translate._MARIAN_PAIR.search(Path(model.rstrip("/")).name)
    if family == "marian" and pair:
        wrong = [lang for lang in langs if lang != pair.group(1).lower()]
        if wrong:
            raise XlcliError(
                f"--langs {','.join(langs)}: model {model} translates {pair.group(1)}→{pair.group(2)}; "
                f"use opus-mt-{wrong[0]}-{target} for {wrong[0]} (one --name per model)"
            )


@dataclass
class MachineTranslator:
    """Translates texts of several source languages into ``target`` with one model."""

    model_name: str
    translator: translate.Translator
    targets: dict[str, translate.Target]  # source language → how to make the model write ``target``
    family: str

    @classmethod
    def load(cls, model: str, langs: Sequence[str], target: str, *, device: str = "auto", num_beams: int = 4,
             max_new_tokens: int = 128) -> MachineTranslator:
        tokenizer, network, dev = seq2seq.load_seq2seq(model, device=device)
        targets = {}
        for lang in langs:
            targets[lang] = translate.resolve_targets(model, tokenizer, network, lang, [target])[target]
        family = next(iter(targets.values())).family
        check_sources(model, family, langs, target)
        return cls(model, translate.Translator(tokenizer, network, dev, num_beams=num_beams, max_new_tokens=max_new_tokens),
                   targets, family)

    def translate(self, lang: str, texts: Sequence[str]) -> list[str]:
        # resolve_targets sets the tokenizer's source language (M2M100, NLLB, mBART-50): set it again
        # for this batch's language, since one model serves every --langs.
        tokenizer = self.translator.tokenizer
        if self.family in ("m2m100", "nllb", "mbart50") and hasattr(tokenizer, "src_lang"):
            codes = {"m2m100": f"__{lang}__", "nllb": translate.NLLB_CODES.get(lang), "mbart50": translate.MBART50_CODES.get(lang)}
            tokenizer.src_lang = codes[self.family]
        return self.translator.translate(list(texts), self.targets[lang])
