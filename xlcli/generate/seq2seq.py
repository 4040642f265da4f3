"""Query generation with a Hugging Face seq2seq model (e.g. an mT5 doc2query model).

The reference generator is ``ielabgroup/xor-tydi-docTquery-mt5-base`` (Zhuang, Shou & Zuccon,
SIGIR 2023, arXiv 2305.03950; trained with the DSI-QG recipe), an mT5-base fine-tuned on XOR-TyDi
with the prompt ``Generate {language} question: {title}</s>{passage}`` — the ``</s>`` is literal
text in the prompt, as in the reference code, which the T5 tokenizer reads as its end-of-sequence
token. Its languages: ar bn fi ja ko ru te en. The paper samples 5 queries per language with
top-k 10 and at most 32 new tokens.

Reproducibility: every generated query has its own seed, derived (sha256) from the run seed, the
passage's ext id, the language and the query's index. Step t of a query samples top-k by inverting
the CDF of the k most likely tokens' softmax at the t-th uniform number of a ``torch.Generator``
seeded with the query's seed (see ``SeededTopKSampler``), so a query does not depend on which other
passages share its batch, on the batch size, or on whether the run was interrupted and resumed.
What remains is floating point: padding a prompt to a longer batch neighbour can change its logits
in the last bits, which flips a draw only when the uniform number falls within that distance of a
boundary. Same model, device and dtype, same batch composition ⇒ bit-identical output.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from xlcli import languages
from xlcli.errors import XlcliError

DEFAULT_PROMPT = "Generate {language} question: {title}</s>{passage}"
REFERENCE_MODEL = "ielabgroup/xor-tydi-docTquery-mt5-base"
REFERENCE_LANGS = ("ar", "bn", "fi", "ja", "ko", "ru", "te", "en")
PROMPT_FIELDS = {"language", "title", "passage"}
MAX_INPUT_TOKENS = 512


def check_prompt(template: str) -> str:
    """A prompt template may use {language}, {title}, {passage}; it must use {passage}."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise XlcliError(f"--prompt {template!r}: not a valid template ({exc}); write literal braces as {{{{ }}}}") from None
    unknown = fields - PROMPT_FIELDS
    if unknown:
        raise XlcliError(
            f"--prompt: unknown field(s) {', '.join('{' + f + '}' for f in sorted(unknown))}; use {{language}}, {{title}}, {{passage}}"
        )
    if "passage" not in fields:
        raise XlcliError("--prompt: the template must contain {passage}")
    return template


def format_prompt(template: str, *, lang: str, title: str, passage: str) -> str:
    """The model input for one passage and target language (language *name*, e.g. 'Spanish')."""
    return template.format(language=languages.name(lang), title=title or "", passage=passage)


def model_warning(model: str, langs: Sequence[str]) -> str | None:
    """A warning when the reference generator is asked for languages it was not trained on."""
    if model.rstrip("/").endswith(REFERENCE_MODEL.split("/")[1]):
        other = [lang for lang in langs if lang not in REFERENCE_LANGS]
        if other:
            return (f"{model} was trained for {' '.join(REFERENCE_LANGS)}; queries for {', '.join(other)}"
                    " will likely come out in another language")
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def load_seq2seq(model: str, *, device: str = "auto"):
    """(tokenizer, model, device) for a seq2seq model by hub id or local directory, no remote code.

    Anything that is not an encoder-decoder (e.g. a BERT encoder) is refused with one line.
    """
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from xlcli import hub
    from xlcli.encoders import pick_device, resolve_path

    if model == "default":
        raise XlcliError("--model default is the packaged encoder; generation needs a seq2seq model (hub id or directory)")
    source, path = resolve_path(model)
    device = pick_device(device)
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # generation-config chatter; our errors are raised below
    offline = source != "hub" or hub.local_files_only(path)
    hint = "" if offline else " (a hub id needs the network or a local copy: pass the model's directory)"
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=offline, trust_remote_code=False)
    except Exception as exc:
        raise XlcliError(f"model {model}: cannot read its configuration ({_first_line(exc)}){hint}") from None
    if not getattr(config, "is_encoder_decoder", False):
        raise XlcliError(
            f"model {model} is a {getattr(config, 'model_type', 'unknown')!r} model, not a seq2seq (encoder-decoder) model:"
            " use a T5/mT5, BART, Marian, M2M100 or NLLB model"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline, trust_remote_code=False)
    except Exception as exc:
        raise XlcliError(f"model {model}: cannot load its tokenizer ({_first_line(exc)}){hint}") from None
    try:
        network = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=offline, trust_remote_code=False)
    except Exception as exc:
        raise XlcliError(f"model {model}: cannot load it as a seq2seq model ({_first_line(exc)}){hint}") from None
    return tokenizer, network.to(device).eval(), device


def _sampler_class():
    import torch
    from transformers import LogitsProcessor

    class SeededTopKSampler(LogitsProcessor):
        """Top-k sampling with one ``torch.Generator`` per row, returned as a one-hot choice.

        ``generate`` runs greedy decoding over this processor's output, so the token each row
        gets is the one drawn from that row's own random stream. Each row's uniforms are drawn
        up front (one per step, on the CPU, so any device gives the same draws); a step then
        inverts the top-k distribution's CDF for all rows at once.
        """

        def __init__(self, seeds: Sequence[int], top_k: int, steps: int):
            self.uniforms = torch.stack([torch.rand(steps, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
            self.top_k = top_k
            self.step = 0

        def __call__(self, input_ids, scores):
            k = scores.shape[-1] if self.top_k <= 0 else min(self.top_k, scores.shape[-1])
            values, indices = scores.float().topk(k, dim=-1)
            cdf = torch.softmax(values, dim=-1).cumsum(dim=-1)
            u = self.uniforms[:, self.step : self.step + 1].contiguous().to(cdf.device)
            self.step += 1
            # The first k whose CDF reaches u; clamped where rounding leaves the last CDF value below u.
            picks = torch.searchsorted(cdf, u).clamp_(max=k - 1)
            chosen = torch.full_like(scores, float("-inf"))
            return chosen.scatter_(-1, indices.gather(-1, picks), 0.0)

    return SeededTopKSampler


@dataclass
class Seq2SeqGenerator:
    """N sampled outputs per input text, each from its own seed."""

    tokenizer: object
    model: object
    device: str
    top_k: int = 10
    max_new_tokens: int = 32
    max_input_tokens: int = MAX_INPUT_TOKENS

    def sample(self, inputs: Sequence[str], seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """For each input, one output per seed in ``seeds[i]`` (all inputs need the same count)."""
        import torch

        if not inputs:
            return []
        n = len(seeds[0])
        if any(len(s) != n for s in seeds):
            raise ValueError("every input needs the same number of seeds")
        batch = self.tokenizer(
            list(inputs), padding=True, truncation=True, max_length=self.max_input_tokens, return_tensors="pt"
        )
        batch = {k: v.repeat_interleave(n, dim=0).to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        sampler = _sampler_class()([s for row in seeds for s in row], self.top_k, self.max_new_tokens)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                do_sample=False,
                num_beams=1,
                max_new_tokens=self.max_new_tokens,
                min_new_tokens=1,  # no empty query: end-of-sequence is barred at the first step
                logits_processor=[sampler],
            )
        texts = [t.strip() for t in self.tokenizer.batch_decode(output, skip_special_tokens=True)]
        return [texts[i * n : (i + 1) * n] for i in range(len(inputs))]
