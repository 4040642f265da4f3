"""generate queries: a tiny randomly initialised T5 through the real seq2seq path (model → prompt →
sampling → rows), seeded reproducibility, kill-and-resume, the lexicon backend, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import beir_folder, generated_queries, make_tiny_t5, rows, snapshot

from xlcli.store import open_store


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory) -> Path:
    return make_tiny_t5(tmp_path_factory.mktemp("tiny-t5"))


def expected_seed(seed: int, ext_id: str, lang: str, idx: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{ext_id}\x1f{lang}\x1f{idx}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def sample_by_hand(model_dir: Path, prompt: str, seed: int, *, top_k: int, max_new_tokens: int) -> str:
    """Top-k sampling written out step by step (full forward each step, no ``generate``): step t takes
    the t-th uniform number of the query's seeded generator through the top-k softmax's CDF."""
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = T5ForConditionalGeneration.from_pretrained(model_dir).eval()
    uniforms = torch.rand(max_new_tokens, generator=torch.Generator().manual_seed(seed)).tolist()
    encoded = tokenizer(prompt, return_tensors="pt")
    decoded = [model.config.decoder_start_token_id]
    with torch.no_grad():
        for step in range(max_new_tokens):
            logits = model(**encoded, decoder_input_ids=torch.tensor([decoded])).logits[0, -1].clone()
            if step == 0:
                logits[model.config.eos_token_id] = float("-inf")  # at least one token
            values, indices = logits.topk(top_k)
            probabilities = torch.softmax(values, -1).tolist()
            chosen, total = top_k - 1, 0.0  # inverse CDF: the first token whose cumulative mass reaches u
            for i, p in enumerate(probabilities):
                total += p
                if total >= uniforms[step]:
                    chosen = i
                    break
            token = int(indices[chosen])
            decoded.append(token)
            if token == model.config.eos_token_id:
                break
    return tokenizer.decode(decoded, skip_special_tokens=True).strip()


def test_tiny_t5_rows_and_provenance(small_store, db, tiny_t5):
    cli = small_store
    result = cli("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "es,de", "--per-lang", "3", "--top-k", "5",
                 "--max-new-tokens", "6", "--seed", "7", "--batch-size", "4")
    passages = rows(db, "SELECT id, ext_id, text FROM passages ORDER BY id")
    assert f"{len(passages) * 2 * 3:,} queries added" in result.output

    (run,) = rows(db, "SELECT * FROM generator_runs")
    assert run.backend == "seq2seq" and run.model == str(tiny_t5.resolve())
    assert run.name == f"{tiny_t5.name}-es-de"
    params = json.loads(run.params_json)
    assert params["prompt"] == "Generate {language} question: {title}</s>{passage}"
    assert (params["top_k"], params["max_new_tokens"], params["seed"], params["per_lang"]) == (5, 6, 7, 3)
    assert params["langs"] == ["es", "de"]
    (inv,) = rows(db, "SELECT id, step, state FROM invocations WHERE step = 'generate'")
    assert inv.state == "done" and run.invocation_id == inv.id

    stored = rows(db, "SELECT q.*, p.ext_id, p.text AS passage FROM generated_queries q JOIN passages p ON p.id = q.passage_id")
    assert len(stored) == len(passages) * 6
    assert {r.lang for r in stored} == {"es", "de"} and {r.idx for r in stored} == {0, 1, 2}
    assert all(r.invocation_id == inv.id and r.text.strip() for r in stored)
    for r in stored:
        assert json.loads(r.metadata_json)["seed"] == expected_seed(7, r.ext_id, r.lang, r.idx)

    # The longest passage is never padded in its batch: its queries must equal hand-made sampling.
    longest = max(passages, key=lambda p: len(p.text))
    for r in (r for r in stored if r.ext_id == longest.ext_id):
        language = {"es": "Spanish", "de": "German"}[r.lang]
        prompt = f"Generate {language} question: </s>{longest.text}"  # LoCoMo turns have no title
        assert r.text == sample_by_hand(tiny_t5, prompt, expected_seed(7, r.ext_id, r.lang, r.idx), top_k=5, max_new_tokens=6)


def test_seeded_generation_is_reproducible_across_batch_sizes(cli, db, small_locomo_file, tiny_t5, tmp_path):
    from conftest import Cli

    other = Cli(tmp_path / "other.db")
    outputs = []
    for store_cli, batch in ((cli, "1"), (other, "9")):
        store_cli("ingest", "locomo", small_locomo_file, "--name", "small")
        store_cli("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "fr", "--per-lang", "2", "--max-new-tokens", "5",
                  "--seed", "3", "--batch-size", batch, "--limit", "10")
        outputs.append(generated_queries(store_cli.db))
    assert outputs[0] == outputs[1] and len(outputs[0]) == 10 * 2
    cli("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "fr", "--per-lang", "2", "--max-new-tokens", "5",
        "--seed", "4", "--name", "seed4", "--limit", "10")
    reseeded = generated_queries(db, "seed4")
    assert sum(a[3] != b[3] for a, b in zip(outputs[0], reseeded)) > len(reseeded) // 2


def test_interrupted_generation_resumes_without_duplicates(cli, db, small_locomo_file, tiny_t5, tmp_path):
    from conftest import Cli

    from xlcli.generate import jobs, runner

    cli("ingest", "locomo", small_locomo_file, "--name", "small")
    args = dict(model=str(tiny_t5), langs=["es", "ru"], per_lang=2, max_new_tokens=5, batch_size=3, seed=11, device="cpu",
                limit=8)
    calls = []

    def kill_after_two_batches(n, lang):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with open_store(db) as store:
        plan, make = jobs.seq2seq_job(store, **args)
        with pytest.raises(KeyboardInterrupt):
            runner.run(store, plan, make(), on_batch=kill_after_two_batches)
    assert rows(db, "SELECT state FROM invocations WHERE step = 'generate'")[0].state == "failed"
    assert len(generated_queries(db)) == 2 * 3 * 2  # two whole batches of 3 pairs × 2 queries

    result = cli("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "es,ru", "--per-lang", "2", "--max-new-tokens", "5",
                 "--batch-size", "3", "--seed", "11", "--limit", "8")
    assert "6 pairs were already done" in result.output
    (inv,) = rows(db, "SELECT state, attempts FROM invocations WHERE step = 'generate'")
    assert (inv.state, inv.attempts) == ("done", 2)
    resumed = generated_queries(db)
    assert len(resumed) == len(set(r[:3] for r in resumed)) == 8 * 2 * 2

    fresh = Cli(tmp_path / "fresh.db")
    fresh("ingest", "locomo", small_locomo_file, "--name", "small")
    fresh("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "es,ru", "--per-lang", "2", "--max-new-tokens", "5",
          "--batch-size", "3", "--seed", "11", "--limit", "8")
    assert generated_queries(fresh.db) == resumed
    again = cli("generate", "queries", "--device", "cpu", "--model", tiny_t5, "--langs", "es,ru", "--per-lang", "2", "--max-new-tokens", "5",
                "--batch-size", "3", "--seed", "11", "--limit", "8")
    assert "nothing to do" in again.output and len(generated_queries(db)) == len(resumed)


# --- lexicon backend ----------------------------------------------------------------------------

CORPUS = {
    "d1": "Pepper chewed the old cello case.",
    "d2": "Yesterday we walked Pepper to the harbour.",
    "d3": "Cello lessons start on 12 May.",
}
LEXICON_ES = """chewed masticó
old viejo
old antiguo
cello violonchelo
case estuche
yesterday ayer
walked caminó
pepper pimienta
may mayo
lessons clases
"""


@pytest.fixture
def tiny_beir(cli, tmp_path) -> Path:
    folder = beir_folder(tmp_path / "tiny", CORPUS, {"q1": "who chewed the cello case"})
    cli("ingest", "beir", folder, "--name", "tiny")
    lexicon = tmp_path / "en-es.txt"
    lexicon.write_text(LEXICON_ES, encoding="utf-8")
    return lexicon


def test_lexicon_output_and_coverage_on_known_passages(cli, db, tiny_beir):
    # --terms 10: every salient term of these short passages is in every pseudo-query, in passage order.
    result = cli("generate", "queries", "--backend", "lexicon", "--lexicon", f"es={tiny_beir}", "--terms", "10",
                 "--per-lang", "2", "--json")
    summary = json.loads(result.stdout)
    # Stopwords out (the, we, to, on). Names: capitalised away from a sentence start more often than
    # not (Pepper in d2, May in d3) → kept; "Cello"/"Yesterday" only open sentences → translated.
    # d1: Pepper masticó {viejo|antiguo} violonchelo estuche — 4 translated, 1 kept
    # d2: ayer caminó Pepper harbour                         — 2 translated, 1 not in dictionary, 1 kept
    # d3: violonchelo clases start 12 May                     — 2 translated, 1 not in dictionary, 2 kept
    assert summary["coverage"]["es"] == {"queries": 6, "terms": 28, "translated": 16, "oov": 4, "kept": 8,
                                         "coverage": 0.8}
    texts = {(ext, idx): t for ext, lang, idx, t in generated_queries(db)}
    assert texts[("d1", 0)] in ("Pepper masticó viejo violonchelo estuche", "Pepper masticó antiguo violonchelo estuche")
    assert texts[("d2", 0)] == texts[("d2", 1)] == "ayer caminó Pepper harbour"
    assert texts[("d3", 0)] == "violonchelo clases start 12 May"
    (row,) = rows(db, "SELECT q.metadata_json FROM generated_queries q JOIN passages p ON p.id = q.passage_id"
                      " WHERE p.ext_id = 'd2' AND q.idx = 0")
    meta = json.loads(row.metadata_json)
    assert meta["terms"] == ["yesterday", "walked", "pepper", "harbour"] and (meta["found"], meta["oov"], meta["kept"]) == (2, 1, 1)

    printed = cli("generate", "queries", "--backend", "lexicon", "--lexicon", f"es={tiny_beir}", "--terms", "10",
                  "--per-lang", "2")
    assert "nothing to do" in printed.output and "80.0%" in printed.output


def test_lexicon_sampling_is_weighted_and_seeded(cli, db, tiny_beir):
    cli("generate", "queries", "--lexicon", f"es={tiny_beir}", "--terms", "2", "--per-lang", "40", "--seed", "1")
    first = generated_queries(db)
    assert all(len(t.split()) == 2 for *_, t in first)
    # Every pair of terms appears in passage order; 40 draws use more than one pair per passage.
    assert len({t for ext, _, _, t in first if ext == "d1"}) > 1
    cli("generate", "queries", "--lexicon", f"es={tiny_beir}", "--terms", "2", "--per-lang", "40", "--seed", "1",
        "--name", "again")
    assert generated_queries(db, "again") == generated_queries(db, "lexicon-es")


def test_fixture_acceptance_five_per_passage_and_language(cli, db, fixture_locomo, lexicons):
    cli("ingest", "locomo", fixture_locomo, "--name", "fixture")
    result = cli("generate", "queries", "--backend", "lexicon", *[a for lang in ("es", "de", "fr", "ru")
                 for a in ("--lexicon", f"{lang}={lexicons / f'en-{lang}.txt'}")], "--json")
    summary = json.loads(result.stdout)
    counts = rows(db, "SELECT lang, passage_id, count(*) AS n FROM generated_queries GROUP BY lang, passage_id")
    (passages,) = rows(db, "SELECT count(*) FROM passages")
    assert {r.n for r in counts} == {5} and len(counts) == 4 * passages[0]
    assert all(summary["coverage"][lang]["coverage"] > 0.5 for lang in ("es", "de", "fr", "ru"))


# --- bad input: one line, exit 2, store unchanged ------------------------------------------------


def _fails(cli, db, *args, message: str):
    before = snapshot(db)
    result = cli(*args, ok=False)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert snapshot(db) == before


def test_not_a_seq2seq_model(small_store, db, tiny_bert):
    _fails(small_store, db, "generate", "queries", "--model", tiny_bert, "--langs", "es", message="not a seq2seq")


def test_malformed_lexicon_line(cli, db, tiny_beir, tmp_path):
    bad = tmp_path / "en-de.txt"
    bad.write_text("dog hund\ncat\nhouse haus\n", encoding="utf-8")
    _fails(cli, db, "generate", "queries", "--lexicon", f"es={tiny_beir}", "--lexicon", f"de={bad}",
           message=f"{bad}:2: expected `source target`")


@pytest.mark.parametrize(
    "args, message",
    [
        (("--lexicon", "es"), "write LANG=PATH"),
        (("--lexicon", "xx=a.txt"), "unknown language code 'xx'"),
        (("--lexicon", "es=/nonexistent/en-es.txt"), "no such file"),
        (("--lexicon", "es={lex}", "--langs", "de"), "no --lexicon for de"),
        (("--lexicon", "es={lex}", "--terms", "5-2"), "--terms"),
        (("--lexicon", "es={lex}", "--per-lang", "0"), "--per-lang 0"),
        (("--lexicon", "es={lex}", "--dataset", "nope"), "no dataset 'nope'"),
        (("--model", "x", "--lexicon", "es={lex}", "--backend", "lexicon"), "--model is for the seq2seq backend"),
        (("--model", "/no/such/model", "--langs", "es"), "no such directory"),
        (("--model", "{lex}", "--langs", "es"), "expected a model directory"),
        (("--langs", "es"), "give --model"),
    ],
)
def test_bad_generate_options(cli, db, tiny_beir, args, message):
    args = [a.replace("{lex}", str(tiny_beir)) for a in args]
    _fails(cli, db, "generate", "queries", *args, message=message)


def test_bad_prompt_and_taken_name(cli, db, tiny_beir, tiny_t5):
    _fails(cli, db, "generate", "queries", "--model", tiny_t5, "--langs", "es", "--prompt", "Ask {lang}: {passage}",
           message="unknown field(s) {lang}")
    cli("generate", "queries", "--lexicon", f"es={tiny_beir}", "--name", "mine")
    _fails(cli, db, "generate", "queries", "--lexicon", f"es={tiny_beir}", "--per-lang", "2", "--name", "mine",
           message="--name mine: a generator run with that name already exists")
    # A derived name that is taken by other parameters gets the run's key appended instead.
    cli("generate", "queries", "--lexicon", f"es={tiny_beir}")
    cli("generate", "queries", "--lexicon", f"es={tiny_beir}", "--per-lang", "2")
    names = [r.name for r in rows(db, "SELECT name FROM generator_runs ORDER BY id")]
    assert names[:2] == ["mine", "lexicon-es"] and names[2].startswith("lexicon-es-") and len(names) == 3
