"""Machine translation of stored queries with a seq2seq MT model.

Supported families, told apart by the tokenizer's vocabulary rather than by model names:

- Marian ``opus-mt-SRC-TGT``: one target, no language token. A multi-target Marian model
  (``opus-mt-en-ROMANCE``) has ``>>xx<<`` tokens; the target's token is prepended to the source.
- M2M100: the decoder starts with ``__xx__`` (``forced_bos_token_id = tokenizer.get_lang_id(xx)``).
- NLLB-200: the decoder starts with a FLORES-200 code such as ``spa_Latn`` (mapped below for common
  ISO 639-1 codes).
- mBART-50: the decoder starts with a code such as ``es_XX``.

A target language the model has no token for is a one-line error, before anything is written.
Translation is deterministic (beam search), so no seed is involved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xlcli.errors import XlcliError

# FLORES-200 codes used by NLLB for the ISO 639-1 codes researchers most often need.
NLLB_CODES = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl",
    "bn": "ben_Beng", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn",
    "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn", "gu": "guj_Gujr",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn",
    "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr",
    "kn": "kan_Knda", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym",
    "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "my": "mya_Mymr", "ne": "npi_Deva", "nl": "nld_Latn",
    "no": "nob_Latn", "nb": "nob_Latn", "pa": "pan_Guru", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn",
    "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "zh": "zho_Hans", "zu": "zul_Latn",
}
# mBART-50 language codes (ISO 639-1 + region).
MBART50_CODES = {
    "ar": "ar_AR", "cs": "cs_CZ", "de": "de_DE", "en": "en_XX", "es": "es_XX", "et": "et_EE", "fi": "fi_FI",
    "fr": "fr_XX", "gu": "gu_IN", "hi": "hi_IN", "it": "it_IT", "ja": "ja_XX", "kk": "kk_KZ", "ko": "ko_KR",
    "lt": "lt_LT", "lv": "lv_LV", "my": "my_MM", "ne": "ne_NP", "nl": "nl_XX", "ro": "ro_RO", "ru": "ru_RU",
    "si": "si_LK", "tr": "tr_TR", "vi": "vi_VN", "zh": "zh_CN", "af": "af_ZA", "az": "az_AZ", "bn": "bn_IN",
    "fa": "fa_IR", "he": "he_IL", "hr": "hr_HR", "id": "id_ID", "ka": "ka_GE", "km": "km_KH", "mk": "mk_MK",
    "ml": "ml_IN", "mn": "mn_MN", "mr": "mr_IN", "pl": "pl_PL", "ps": "ps_AF", "pt": "pt_XX", "sv": "sv_SE",
    "sw": "sw_KE", "ta": "ta_IN", "te": "te_IN", "th": "th_TH", "tl": "tl_XX", "uk": "uk_UA", "ur": "ur_PK",
    "xh": "xh_ZA", "gl": "gl_ES", "sl": "sl_SI",
}
_MARIAN_PAIR = re.compile(r"opus-mt-(?:tc-big-)?([a-z]{2,3})-([a-z]{2,3})$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """How to make the model translate into one language."""

    lang: str
    family: str  # marian | marian-multi | m2m100 | nllb | mbart50
    forced_bos_token_id: int | None = None
    prefix: str = ""


def _token_id(tokenizer, token: str) -> int | None:
    vocab = tokenizer.get_vocab()
    return vocab.get(token)


def _family(tokenizer, model) -> str:
    vocab = tokenizer.get_vocab()
    model_type = getattr(model.config, "model_type", "")
    if any(t.startswith(">>") and t.endswith("<<") for t in vocab):
        return "marian-multi"
    if any(re.fullmatch(r"__[a-z]{2,3}__", t) for t in vocab):
        return "m2m100"
    if "eng_Latn" in vocab:
        return "nllb"
    if "en_XX" in vocab:
        return "mbart50"
    if model_type == "marian":
        return "marian"
    return "plain"


def resolve_targets(model_name: str, tokenizer, model, source: str, targets: Sequence[str]) -> dict[str, Target]:
    """One :class:`Target` per language, or a one-line error for a language the model lacks."""
    family = _family(tokenizer, model)
    resolved: dict[str, Target] = {}
    for lang in targets:
        if family == "marian-multi":
            token = f">>{lang}<<"
            if _token_id(tokenizer, token) is None:
                codes = sorted(t[2:-2] for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<"))
                raise XlcliError(f"--to {lang}: model {model_name} has no target token {token} (it has: {' '.join(codes[:30])})")
            resolved[lang] = Target(lang, family, prefix=token + " ")
        elif family in ("m2m100", "nllb", "mbart50"):
            token = {"m2m100": f"__{lang}__", "nllb": NLLB_CODES.get(lang), "mbart50": MBART50_CODES.get(lang)}[family]
            token_id = _token_id(tokenizer, token) if token else None
            if token_id is None:
                raise XlcliError(f"--to {lang}: model {model_name} ({family}) has no language token for {lang!r}; choose another --to or model")
            resolved[lang] = Target(lang, family, forced_bos_token_id=token_id)
        else:
            pair = _MARIAN_PAIR.search(Path(model_name.rstrip("/")).name)
            if pair and pair.group(2).lower() != lang:
                raise XlcliError(
                    f"--to {lang}: model {model_name} translates {pair.group(1)}→{pair.group(2)}; use opus-mt-{source}-{lang} for {lang}"
                )
            if len(targets) > 1:
                raise XlcliError(
                    f"--to {','.join(targets)}: model {model_name} has one fixed target language; give one --to (or a multilingual model)"
                )
            resolved[lang] = Target(lang, family)
    if family in ("m2m100", "nllb", "mbart50"):
        source_token = {"m2m100": f"__{source}__", "nllb": NLLB_CODES.get(source), "mbart50": MBART50_CODES.get(source)}[family]
        if not source_token or _token_id(tokenizer, source_token) is None:
            raise XlcliError(f"--from {source}: model {model_name} ({family}) has no language token for {source!r}")
        if hasattr(tokenizer, "src_lang"):
            tokenizer.src_lang = source_token  # the encoder input starts with the source language's token
    return resolved


@dataclass
class Translator:
    tokenizer: object
    model: object
    device: str
    num_beams: int = 4
    max_new_tokens: int = 128

    def __post_init__(self) -> None:
        for flag, value in (("--num-beams", self.num_beams), ("--max-new-tokens", self.max_new_tokens)):
            if value < 1:
                raise XlcliError(f"{flag} {value}: must be at least 1")

    def translate(self, texts: Sequence[str], target: Target) -> list[str]:
        import torch

        if not texts:
            return []
        batch = self.tokenizer([target.prefix + t for t in texts], padding=True, truncation=True, max_length=512,
                               return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        kwargs = {"forced_bos_token_id": target.forced_bos_token_id} if target.forced_bos_token_id is not None else {}
        with torch.inference_mode():
            output = self.model.generate(**batch, num_beams=self.num_beams, do_sample=False,
                                         max_new_tokens=self.max_new_tokens, **kwargs)
        return [t.strip() for t in self.tokenizer.batch_decode(output, skip_special_tokens=True)]
