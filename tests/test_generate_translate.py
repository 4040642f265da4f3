"""generate translations: tiny Marian and M2M100 models (random weights, tokenizers trained in memory)
machine-translate stored queries; rows link to their source, inherit its qrels, are marked machine-made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import corpus_texts, rows, snapshot

SPECIAL = ["<pad>", "</s>", "<unk>", "<s>"]
M2M_LANGS = ["__en__", "__es__", "__de__"]  # no __ru__


def _tokenizer(extra: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(corpus_texts(), trainers.WordLevelTrainer(special_tokens=SPECIAL + extra))
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   bos_token="<s>", additional_special_tokens=extra or None)


def make_tiny_marian(directory: Path) -> Path:
    import torch
    from transformers import MarianConfig, MarianMTModel

    tokenizer = _tokenizer([])
    config = MarianConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          max_position_embeddings=64, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                          forced_eos_token_id=None)
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def make_tiny_m2m100(directory: Path) -> Path:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    tokenizer = _tokenizer(M2M_LANGS)
    config = M2M100Config(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          max_position_embeddings=64, pad_token_id=0, eos_token_id=1, bos_token_id=3,
                          decoder_start_token_id=1, forced_eos_token_id=None)
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory) -> Path:
    return make_tiny_marian(tmp_path_factory.mktemp("mt") / "opus-mt-en-es")


@pytest.fixture(scope="module")
def tiny_m2m100(tmp_path_factory) -> Path:
    return make_tiny_m2m100(tmp_path_factory.mktemp("m2m") / "m2m100-tiny")


def greedy_by_hand(model_dir: Path, source: str, first_token: str, max_new_tokens: int) -> str:
    """Greedy decoding written out, with the target-language token forced as the first output token."""
    import torch
    from transformers import AutoTokenizer, M2M100ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = M2M100ForConditionalGeneration.from_pretrained(model_dir).eval()
    encoded = tokenizer(source, return_tensors="pt")
    decoded = [model.config.decoder_start_token_id, tokenizer.convert_tokens_to_ids(first_token)]
    with torch.no_grad():
        while len(decoded) - 1 < max_new_tokens and decoded[-1] != model.config.eos_token_id:
            logits = model(**encoded, decoder_input_ids=torch.tensor([decoded])).logits[0, -1]
            decoded.append(int(logits.argmax()))
    return tokenizer.decode(decoded, skip_special_tokens=True).strip()


def test_marian_translations_link_to_source_and_inherit_qrels(small_store, db, tiny_marian):
    cli = small_store
    result = cli("generate", "translations", "--device", "cpu", "--model", tiny_marian, "--from", "en", "--to", "es", "--split", "test",
                 "--num-beams", "2", "--max-new-tokens", "6")
    sources = rows(db, "SELECT id, ext_id, split, scope, text FROM queries WHERE lang = 'en' AND split = 'test'")
    made = rows(db, "SELECT * FROM queries WHERE translator != ''")
    assert f"added {len(sources)} es" in result.output and len(made) == len(sources) == 4
    by_source = {m.source_query_id: m for m in made}
    for source in sources:
        m = by_source[source.id]
        assert (m.ext_id, m.lang, m.split, m.scope) == (source.ext_id, "es", source.split, source.scope)
        assert m.translator == str(tiny_marian.resolve())
        assert json.loads(m.metadata_json)["machine_translated"] is True
        assert rows(db, "SELECT passage_id, relevance FROM qrels WHERE query_id = :q ORDER BY 1", q=m.id) == \
            rows(db, "SELECT passage_id, relevance FROM qrels WHERE query_id = :q ORDER BY 1", q=source.id)
    (inv,) = rows(db, "SELECT id, state FROM invocations WHERE step = 'generate-translations'")
    assert inv.state == "done" and {m.invocation_id for m in made} == {inv.id}
    # The human translation of conv-b/q0 stays; the machine one sits beside it.
    assert len(rows(db, "SELECT id FROM queries WHERE ext_id = 'conv-b/q0' AND lang = 'es'")) == 2

    again = cli("generate", "translations", "--device", "cpu", "--model", tiny_marian, "--from", "en", "--to", "es", "--split", "test",
                "--num-beams", "2", "--max-new-tokens", "6")
    assert "nothing to do" in again.output
    assert len(rows(db, "SELECT id FROM queries WHERE translator != ''")) == 4


def test_m2m100_forces_the_target_language_token(small_store, db, tiny_m2m100):
    cli = small_store
    cli("generate", "translations", "--device", "cpu", "--model", tiny_m2m100, "--to", "es,de", "--num-beams", "1", "--max-new-tokens", "5",
        "--batch-size", "3")
    sources = {r.id: r.text for r in rows(db, "SELECT id, text FROM queries WHERE lang = 'en'")}
    made = rows(db, "SELECT source_query_id, lang, text FROM queries WHERE translator != ''")
    assert len(made) == 2 * len(sources)
    for source_id, lang, translated in made:
        assert translated == greedy_by_hand(tiny_m2m100, sources[source_id], f"__{lang}__", 5)


@pytest.mark.parametrize(
    "model, args, message",
    [
        ("m2m", ("--to", "es,ru"), "--to ru: model"),
        ("m2m", ("--to", "es,ru"), "has no language token for 'ru'"),
        ("m2m", ("--from", "fr", "--to", "es"), "--from fr: model"),
        ("marian", ("--from", "it", "--to", "es"), "has no it queries"),
        ("marian", ("--to", "de"), "translates en→es"),
        ("marian", ("--to", "es", "--split", "nope"), "no en queries in split 'nope'"),
        ("marian", ("--to", "en"), "includes the source language"),
        ("bert", ("--to", "es"), "not a seq2seq"),
    ],
)
def test_bad_translation_options(small_store, db, tiny_m2m100, tiny_marian, tiny_bert, model, args, message):
    path = {"m2m": tiny_m2m100, "marian": tiny_marian, "bert": tiny_bert}[model]
    before = snapshot(db)
    result = small_store("generate", "translations", "--model", path, *args, ok=False)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(db) == before
