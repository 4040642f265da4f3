"""A small evaluated store for error-analysis tests: the small LoCoMo (conv-b held out) with its
translations, ielab variants, a BM25 index and optionally a tiny dense one, evaluated by `xlcli eval`."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, build_store, ingest_small

MEASURES = "R@10 RR@10 nDCG@10"


def build(directory: Path, dense_model: Path | None = None) -> Cli:
    indexes = ["bm", *(["tiny"] if dense_model is not None else [])]
    dense = [("index", "--name", "tiny", "--model", dense_model, "--device", "cpu")] if dense_model is not None else []
    return build_store(directory / "store.db", ingest_small,
                       ("perturb", "--protocol", "ielab", "--variants", "3", "--split", "test", "--seed", "1"),
                       ("index", "--name", "bm", "--bm25"), *dense,
                       ("eval", "--index", ",".join(indexes), "--measures", MEASURES, "--device", "cpu"))
