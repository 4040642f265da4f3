"""xlcli rewrite --backend mt end to end with a tiny Marian model built in the test (random weights)."""

from __future__ import annotations

import pytest
from conftest import assert_refused, snapshot
from sqlalchemy import text
from test_generate_translate import make_tiny_marian

from xlcli.store import open_store


@pytest.fixture(scope="module")
def es_en(tmp_path_factory):
    return make_tiny_marian(tmp_path_factory.mktemp("mt") / "opus-mt-es-en")


def _greedy(model_dir, texts: list[str], max_new_tokens: int) -> list[str]:
    import torch
    from transformers import AutoTokenizer, MarianMTModel

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = MarianMTModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        out = model.generate(**tokenizer(texts, return_tensors="pt", padding=True), num_beams=1, do_sample=False,
                             max_new_tokens=max_new_tokens)
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]


def test_mt_rewrites_clean_queries_and_variants(small_store, db, es_en):
    small_store("perturb", "--protocol", "ielab", "--langs", "es", "--variants", "3")
    args = ("rewrite", "--name", "mt-es", "--backend", "mt", "--model", es_en, "--langs", "es", "--device", "cpu",
            "--num-beams", "1", "--max-new-tokens", "5", "--batch-size", "2")
    result = small_store(*args)
    assert "rewrote" in result.output
    with open_store(db, write=False) as store, store.read() as conn:
        rows = conn.execute(text(
            "SELECT r.query_id, r.variant_id, r.text, r.operations_json, r.unknown, coalesce(v.text, q.text) AS source"
            " FROM query_rewrites r JOIN queries q ON q.id = r.query_id LEFT JOIN query_variants v ON v.id = r.variant_id"
            " ORDER BY r.query_id, r.variant_id")).all()
        expected = conn.execute(text(
            "SELECT (SELECT count(*) FROM queries WHERE lang = 'es') + (SELECT count(*) FROM query_variants v"
            " JOIN queries q ON q.id = v.query_id WHERE q.lang = 'es')")).scalar_one()
        run = conn.execute(text("SELECT backend, target_lang, params_json FROM rewrite_runs")).one()
    assert len(rows) == expected and any(r.variant_id != 0 for r in rows)
    assert run.backend == "mt" and run.target_lang == "en" and '"family":"marian"' in run.params_json
    # Each text is the model's own greedy translation of that source text (clean or misspelled),
    # batched as the run batched them (padding a batch can move logits in the last bits).
    sources = [r.source for r in rows]
    assert [r.text for r in rows] == [t for i in range(0, len(sources), 2) for t in _greedy(es_en, sources[i : i + 2], 5)]
    assert all(r.operations_json == "[]" and r.unknown is None for r in rows)
    before = snapshot(db)
    assert "nothing to do" in small_store(*args).output
    assert snapshot(db) == before


def test_a_one_pair_marian_model_refuses_other_source_languages(small_store, db, es_en):
    before = snapshot(db)
    result = small_store("rewrite", "--name", "mt-de", "--backend", "mt", "--model", es_en, "--langs", "de", "--device", "cpu", ok=False)
    assert_refused(result, db, before, "opus-mt-de-en")
