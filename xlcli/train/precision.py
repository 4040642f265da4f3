"""The arithmetic of a training step: float32, or bfloat16 autocast (mixed precision).

Under ``torch.autocast`` the matrix products run in bfloat16 while the weights, the optimiser
state, LayerNorm, softmax and the loss stay float32 — automatic mixed precision as in Micikevicius
et al., "Mixed Precision Training" (ICLR 2018), with bfloat16 instead of float16, whose wider
exponent needs no loss scaling (Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training",
2019). That is why float16 is not offered here: it would need a gradient scaler in the loop and its
state in every checkpoint. The formats and their hardware checks are :data:`xlcli.encoders.PRECISIONS`'.

``auto`` keeps what training always did: bfloat16 autocast on CUDA, float32 elsewhere. It stays
out of the run's key (like ``--device``); an explicit choice is part of it.
"""

from __future__ import annotations

from xlcli.encoders import AUTO, precision_missing
from xlcli.errors import XlcliError

CHOICES = (AUTO, "fp32", "bf16")


def check_name(value: str) -> str:
    if value not in CHOICES:
        raise XlcliError(f"--precision {value}: use one of {', '.join(CHOICES)} "
                         "(fp16 training would need loss scaling; bf16 does not)")
    return value


def resolve(precision: str, device: str) -> str:
    """The precision a run computes in on the concrete ``device``; refused where it cannot run."""
    if check_name(precision) == AUTO:
        return "bf16" if device.startswith("cuda") else "fp32"
    reason = precision_missing(precision, device)
    if reason is not None:
        raise XlcliError(f"--precision {precision} on {device}: {reason}; use fp32 or auto")
    return precision


def help_text() -> str:
    return ("auto (bf16 autocast on CUDA, fp32 elsewhere), fp32, or bf16: bfloat16 matrix products under autocast, "
            "float32 weights and optimiser (CPUs with AVX512-BF16 or AMX, GPUs from Ampere on)")
