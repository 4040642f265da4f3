"""Multi-positive typo contrast (Sidiropoulos & Kanoulas, ECIR 2024, "Improving the Robustness of
Dense Retrievers Against Typos via Multi-Positive Contrastive Learning").

A query and several misspelled variants of it are positives of one another; every other query of
the batch and its variants are negatives. The loss is the supervised contrastive loss of Khosla et
al. (NeurIPS 2020, L_out): for each anchor, the mean over its positives of −log of the positive's
softmax probability among all other embeddings. It pulls a query's misspellings onto it in the
query space, in addition to (not instead of) the relevance loss.
"""

from __future__ import annotations

import torch

from xlcli.train.losses import scores


def multi_positive_contrast(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float,
                            exclude: torch.Tensor | None = None) -> torch.Tensor:
    """SupCon over ``embeddings`` (N, d): rows with equal ``labels`` (N,) are positives.

    ``exclude`` (N, N, bool) marks pairs that are neither positive nor negative (e.g. two
    languages of one question). Anchors without any positive do not contribute.
    """
    n = embeddings.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    blocked = eye if exclude is None else eye | (exclude & ~positive)
    logits = scores(embeddings, embeddings, temperature, blocked)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    anchors = positive.any(dim=1)
    if not bool(anchors.any()):
        return logits.sum() * 0.0
    per_anchor = (log_prob * positive).sum(dim=1)[anchors] / positive.sum(dim=1)[anchors]
    return -per_anchor.mean()
