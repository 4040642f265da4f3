"""Cross-lingual self-teaching: the English query's score distribution teaches its foreign version.

Dr.DECR (Li et al., AAAI 2022) and Translate-Distill (Yang et al., 2024) distil an English
retriever's judgement into a cross-lingual student; here it takes the form of Zhuang & Zuccon's
self-teaching (SIGIR 2022): for a foreign (possibly misspelled) query whose English source is known
— a human translation, a translate-train question, a code-switched question — the student's score
distribution over the batch's passages is pulled towards the English query's,
KL(softmax(s_en/τ) with gradient stopped ‖ softmax(s_foreign/τ)). The English scores come from the
student itself (no gradient) or from a frozen teacher (``--teacher``).
"""

from __future__ import annotations

import torch

from xlcli.train.losses import self_teaching_kl


def cross_lingual_kl(english_logits: torch.Tensor, foreign_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_en ‖ p_foreign), mean over queries; the English side is a fixed target (detached).

    The same divergence as self-teaching's, with the English query in the clean query's place:
    zero when both queries score the passages alike, positive otherwise.
    """
    return self_teaching_kl(english_logits, foreign_logits)
