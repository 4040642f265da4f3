"""One query's input rankings → its fused ranking: cut, normalise, fuse, order, cut.

Each input ranking is cut at the fusion depth (the top ``depth`` of each system, as pyserini's
hybrid search does), normalised per query (:mod:`xlcli.fuse.norms`; not for rank-based methods),
fused (:mod:`xlcli.fuse.methods`) and ordered by fused score descending, **ties by passage ext id
descending** — trec_eval's order, the order of every xlcli ranking (see :mod:`xlcli.search` and
:mod:`xlcli.metrics`), so the stored ranks are the ranks trec_eval and ir_measures see on the
exported run. The top ``depth`` are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xlcli import metrics
from xlcli.errors import XlcliError
from xlcli.fuse.methods import DEFAULT_K, METHODS, Method
from xlcli.fuse.norms import NORMS, Norm

Ranking = list[tuple[str, float]]  # (passage ext id, score), best first
Key = tuple[int, int]  # (query id, variant id)


@dataclass(frozen=True)
class FusionSpec:
    method: Method
    norm: Norm
    k: int
    weights: tuple[float, ...]
    depth: int

    def params(self) -> dict:
        return {"method": self.method.name, "norm": self.norm.name, "k": self.k if self.method.uses_ranks else None,
                "weights": list(self.weights) if self.method.weighted else None, "depth": self.depth}


def make_spec(method: str, norm: str | None, k: int | None, weights: Sequence[float] | None, depth: int, n_inputs: int) -> FusionSpec:
    """A validated spec; one-line errors for unknown names, absurd numbers and mismatched weights."""
    if method not in METHODS:
        raise XlcliError(f"--method {method}: unknown fusion method (methods: {', '.join(METHODS)})")
    m = METHODS[method]
    if norm is None:
        norm = "none" if m.uses_ranks else "minmax"
    if norm not in NORMS:
        raise XlcliError(f"--norm {norm}: unknown normalisation (normalisations: {', '.join(NORMS)})")
    if m.uses_ranks and norm != "none":
        raise XlcliError(f"--norm {norm}: {method} fuses ranks, not scores; leave --norm out (or use none)")
    if k is not None and not m.uses_ranks:
        raise XlcliError(f"--k: only rank-based methods take k ({', '.join(x for x, v in METHODS.items() if v.uses_ranks)})")
    k = DEFAULT_K if k is None else k
    if k <= 0:
        raise XlcliError(f"--k {k}: must be a positive integer")
    if depth < 1:
        raise XlcliError(f"--depth {depth}: must be at least 1")
    if weights is not None:
        if not m.weighted:
            raise XlcliError(f"--weights: {method} takes no weights (weighted methods: {', '.join(x for x, v in METHODS.items() if v.weighted)})")
        if len(weights) != n_inputs:
            raise XlcliError(f"--weights: {len(weights)} weights for {n_inputs} systems; give one weight per system")
        if any(not (w >= 0) or w == float("inf") for w in weights) or not any(w > 0 for w in weights):
            raise XlcliError("--weights: weights must be finite, non-negative, and not all 0")
    return FusionSpec(m, NORMS[norm], k, tuple(float(w) for w in weights) if weights is not None else (1.0,) * n_inputs, depth)


def parse_weights(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        raise XlcliError(f"--weights {value!r}: expected comma-separated numbers, e.g. 1,1,0.5") from None


def fuse_ranking(inputs: Sequence[Ranking], spec: FusionSpec) -> Ranking:
    """The fused ranking of one query (or one variant) from each input's ranking of it."""
    cut = [dict(r[: spec.depth]) for r in inputs]
    results = cut if spec.method.uses_ranks else [spec.norm.fn(r) for r in cut]
    fused = spec.method.fn(results, spec.weights, spec.k)
    return [(d, fused[d]) for d in metrics.order(fused)[: spec.depth]]


def fuse_all(keys: Sequence[Key], inputs: Sequence[Mapping[Key, Ranking]], spec: FusionSpec) -> dict[Key, Ranking]:
    """Every (query, variant) of ``keys`` fused; an input with no ranking for a key contributes nothing."""
    return {key: fuse_ranking([ranks.get(key, []) for ranks in inputs], spec) for key in keys}
