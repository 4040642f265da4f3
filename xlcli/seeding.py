"""Seeds derived from stable names, so every random choice is reproducible across processes.

Python's ``hash()`` of a string changes from process to process (PYTHONHASHSEED); a hash of the
UTF-8 bytes does not. Deriving one seed per item (a passage and language, a training
micro-batch, a query to misspell) from the run's seed makes each item's output independent of the
order and batching in which items are processed, which is what lets an interrupted run resume
with exactly the rows an uninterrupted run writes. Every derived seed is 63 bits, so it fits a
SQLite INTEGER.

Two derivations, both frozen (stored rows and published runs depend on their exact values):

- :func:`derive_seed` — the run seed and a few *names* (ids, language codes, indices), joined
  by the unit separator and hashed with SHA-256 (generation, training);
- :func:`query_seed` — a perturbation: ``[scheme, seed, protocol, parameters, language, text]``
  as canonical JSON, hashed with BLAKE2b. JSON rather than a joined string because the key holds
  a parameter dict and free query text (which may contain any separator). Keying on the text
  rather than on a store id means ``xlcli perturb --preview TEXT`` reproduces the variants a batch
  run stored for the same text; the number of variants is not part of the key, so asking for 20
  variants gives the 10 of a 10-variant run followed by 10 more.
"""

from __future__ import annotations

import hashlib
import json
import random

PERTURB_SCHEME = "xlcli-perturb/1"


def _seed_of(digest: bytes) -> int:
    """The first 8 bytes of a digest as a non-negative 63-bit integer."""
    return int.from_bytes(digest[:8], "big") >> 1


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from the run seed and any names (e.g. passage ext id, language, index)."""
    material = "\x1f".join([str(seed), *(str(p) for p in parts)]).encode("utf-8")
    return _seed_of(hashlib.sha256(material).digest())


def query_seed(seed: int, protocol: str, params: dict, lang: str, text: str) -> int:
    """The seed of one query's misspelled variants under a perturbation protocol."""
    material = json.dumps(
        [PERTURB_SCHEME, seed, protocol, params, lang, text], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return _seed_of(hashlib.blake2b(material.encode("utf-8"), digest_size=8).digest())


def rng(seed: int) -> random.Random:
    """The generator every derived seed is used with."""
    return random.Random(seed)
