"""Seeds derived from stable names, so every random choice is reproducible across processes.

Python's ``hash()`` of a string changes from process to process (PYTHONHASHSEED); a hash of the
UTF-8 bytes does not. Deriving one seed per (passage, language[, index]) from the run's seed makes
each item's output independent of the order and batching in which items are processed, which is
what lets an interrupted run resume with exactly the rows an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from the run seed and any names (e.g. passage ext id, language, index)."""
    material = "\x1f".join([str(seed), *(str(p) for p in parts)]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") >> 1
