"""The training objectives, as plain functions of embeddings (one module per newer objective).

Here: InfoNCE, the self-teaching KL and the alignment MSE; :mod:`.cross_lingual` (cross-lingual
self-teaching) and :mod:`.multi_positive` (multi-positive typo contrast) hold one objective each.

All scores are computed in float32 (under bf16 autocast the embeddings may be bf16) and masked
entries get a large negative logit rather than -inf, so that a masked column contributes exactly
zero probability without turning the KL divergence into NaN (0 · (−inf − −inf)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MASKED = -1.0e4  # ≪ any cosine / τ (|cos| ≤ 1, τ ≥ 1e-3 in practice) yet finite


def scores(queries: torch.Tensor, candidates: torch.Tensor, temperature: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Logits s(q, c)/τ of every query against every candidate passage; masked entries excluded."""
    # Autocast would run this matmul in bf16 even on float32 inputs; scores need float32.
    with torch.autocast(device_type=queries.device.type, enabled=False):
        logits = queries.float() @ candidates.float().T / temperature
    if mask is not None:
        logits = logits.masked_fill(mask, MASKED)
    return logits


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) with in-batch negatives (Karpukhin et al., DPR, EMNLP 2020).

    ``logits`` is (B, B + N): column *i* is query *i*'s positive, the other in-batch positives and the
    N mined hard negatives are its negatives. The loss is the cross-entropy of picking the positive.
    """
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))


def self_teaching_kl(clean_logits: torch.Tensor, typo_logits: torch.Tensor) -> torch.Tensor:
    """Self-teaching (Zhuang & Zuccon, SIGIR 2022, "CharacterBERT and Self-Teaching for Improving
    the Robustness of Dense Retrievers on Queries with Typos"): KL(p_clean ‖ p_typo).

    The score distribution of the clean query over the candidates is the teacher (its gradient
    is stopped); the misspelled query's distribution is pulled towards it. Mean over queries.
    """
    target = F.log_softmax(clean_logits.detach(), dim=-1)
    return F.kl_div(F.log_softmax(typo_logits, dim=-1), target, log_target=True, reduction="batchmean")


def alignment_mse(student_foreign: torch.Tensor, student_en: torch.Tensor, teacher_en: torch.Tensor) -> torch.Tensor:
    """Multilingual knowledge distillation (Reimers & Gurevych, EMNLP 2020, "Making Monolingual
    Sentence Embeddings Multilingual using Knowledge Distillation"):
    MSE(student(x_foreign), teacher(x_en)) + MSE(student(x_en), teacher(x_en)).

    The teacher is a frozen copy of the starting model, so the student is also held close to
    where it started. The squared error is summed over the embedding dimensions and averaged
    over pairs (the paper's MSE times the dimension, a constant): for unit vectors it is
    2 − 2·cos, on the scale of the contrastive loss, so ``--align-weight 1`` is a real weight
    rather than the ~1/384 that an element-wise mean would give it.
    """
    target = teacher_en.detach().float()
    foreign = (student_foreign.float() - target).pow(2).sum(dim=-1).mean()
    english = (student_en.float() - target).pow(2).sum(dim=-1).mean()
    return foreign + english


from xlcli.train.losses.cross_lingual import cross_lingual_kl  # noqa: E402  (they use the functions above)
from xlcli.train.losses.multi_positive import multi_positive_contrast  # noqa: E402

__all__ = ["MASKED", "alignment_mse", "cross_lingual_kl", "info_nce", "multi_positive_contrast", "scores", "self_teaching_kl"]
