"""Deterministic seeding: the same query, protocol, parameters and seed give the same variants
in any process, on any platform, in any order of processing.

Each query gets its own ``random.Random`` seeded from a BLAKE2b hash of
``[scheme, seed, protocol, parameters, language, text]`` (canonical JSON, UTF-8) — never
Python's ``hash()``, which is salted per process. Keying on the text rather than on a store id
means ``xlcli perturb --preview TEXT`` reproduces the variants a batch run stored for the same
text. The number of variants is not part of the key, so asking for 20 variants gives the 10 of
a 10-variant run followed by 10 more. The derived seed is 63 bits, so it fits a SQLite INTEGER
and is recorded with every variant.
"""

from __future__ import annotations

import hashlib
import json
import random

SCHEME = "xlcli-perturb/1"


def query_seed(seed: int, protocol: str, params: dict, lang: str, text: str) -> int:
    material = json.dumps(
        [SCHEME, seed, protocol, params, lang, text], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    digest = hashlib.blake2b(material.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def rng(query_seed_value: int) -> random.Random:
    return random.Random(query_seed_value)
