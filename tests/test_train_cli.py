"""xlcli train / xlcli ingest parallel through the real CLI, with a tiny BERT on the small LoCoMo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import rows, snapshot
from sqlalchemy import text

from xlcli.store import open_store

TINY_ARGS = ("--batch-size", "4", "--max-length", "32", "--lr", "1e-3")


@pytest.fixture
def parallel_files(tmp_path: Path) -> tuple[Path, Path]:
    es = ["Tengo un perro.", "Me gusta la música.", "Mi hermana vive en Madrid.", "Corrí una maratón.", "El gato duerme."]
    en = ["I have a dog.", "I like music.", "My sister lives in Madrid.", "I ran a marathon.", "The cat sleeps."]
    src, eng = tmp_path / "tatoeba.spa-eng.spa", tmp_path / "tatoeba.spa-eng.eng"
    src.write_text("\n".join(es) + "\n", encoding="utf-8")
    eng.write_text("\n".join(en) + "\n", encoding="utf-8")
    return src, eng


def test_train_registers_checkpoints_that_index_eval_and_sentence_transformers_load(small_store, db, tiny_bert):
    cli = small_store
    result = cli("train", "--name", "tiny-xl", "--base", tiny_bert, "--pairs", "queries:en,es,de,ru", "--typo-aware", "0.5",
                 "--self-teaching", "--steps", "4", "--save-every", "2", *TINY_ARGS)
    assert "tiny-xl: trained 4 steps" in result.output

    models = rows(db, "SELECT name, source, step, training_run_id FROM models WHERE source = 'checkpoint' ORDER BY step")
    assert models == [("tiny-xl@step-2", "checkpoint", 2, 1), ("tiny-xl", "checkpoint", 4, 1)]
    base = rows(db, "SELECT b.path FROM models m JOIN models b ON b.id = m.base_model_id WHERE m.name = 'tiny-xl'")
    assert base == [(str(Path(tiny_bert).resolve()),)]
    run = rows(db, "SELECT status, allow_leakage, base_model, output_dir FROM training_runs WHERE name = 'tiny-xl'")[0]
    assert run[:3] == ("done", 0, str(tiny_bert))
    assert Path(run[3]) == db.parent / "xlcli-models" / "tiny-xl"

    log = rows(db, "SELECT step, objective FROM training_log ORDER BY step, objective")
    assert log == [(s, o) for s in (1, 2, 3, 4) for o in ("contrastive", "self_teaching", "total")]
    for _step, total, parts in rows(db, "SELECT t.step, t.loss, (SELECT sum(loss) FROM training_log x WHERE x.step = t.step"
                                       " AND x.objective != 'total') FROM training_log t WHERE objective = 'total'"):
        assert total == pytest.approx(parts, rel=1e-5)
    lrs = [lr for (lr,) in rows(db, "SELECT DISTINCT lr FROM training_log ORDER BY step")]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == 0.0  # linear decay to zero at the last step

    final = Path(rows(db, "SELECT path FROM models WHERE name = 'tiny-xl'")[0][0])
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"):
        assert (final / name).is_file(), name
    assert (final / "trainer_state.json").is_file() and (final / "trainer_state.safetensors").is_file()
    assert not (final.parent / "step-2" / "trainer_state.safetensors").exists()  # only the newest keeps the optimizer

    cli("index", "--name", "tiny-xl-idx", "--model", "tiny-xl")
    cli("eval", "--index", "tiny-xl-idx", "--langs", "en")
    assert rows(db, "SELECT count(*) FROM eval_runs") == [(1,)]

    from sentence_transformers import SentenceTransformer

    from xlcli.models import resolve_model

    texts = ["Where does Tomás's sister live?", "I bought a food truck!"]
    with open_store(db, write=False) as store, store.read() as conn:
        ours = resolve_model(conn, "tiny-xl")[1].load(device="cpu").encode_passages(texts)
    theirs = SentenceTransformer(str(final), device="cpu").encode(texts)
    assert np.allclose(ours, theirs, atol=1e-5)


def test_rerun_after_finishing_is_nothing_to_do(small_store, db, tiny_bert):
    args = ("train", "--name", "again", "--base", tiny_bert, "--steps", "2", *TINY_ARGS)
    small_store(*args)
    before = snapshot(db)
    result = small_store(*args, "--save-every", "1", "--device", "cpu")  # not part of the run's identity
    assert "nothing to do" in result.output
    after = snapshot(db)
    assert after.pop("invocations") == before.pop("invocations") and after == before


def test_ingest_parallel_and_alignment_objective(small_store, db, tiny_bert, parallel_files):
    cli = small_store
    src, eng = parallel_files
    assert "added 5 Spanish–English sentence pairs" in cli("ingest", "parallel", src, eng, "--lang", "es").output
    assert rows(db, "SELECT name, kind, lang FROM datasets WHERE kind = 'parallel'") == [("tatoeba-es", "parallel", "es")]
    assert rows(db, "SELECT line, text, en_text FROM parallel_sentences WHERE line = 3") == [(3, "Mi hermana vive en Madrid.", "My sister lives in Madrid.")]
    assert "nothing to do" in cli("ingest", "parallel", src, eng, "--lang", "es").output

    cli("train", "--name", "aligned", "--base", tiny_bert, "--dataset", "small", "--pairs", "queries:en,es",
        "--parallel", "tatoeba-es", "--align-weight", "2", "--steps", "2", *TINY_ARGS)
    objectives = rows(db, "SELECT objective FROM training_log WHERE step = 1 ORDER BY objective")
    assert objectives == [("align",), ("contrastive",), ("total",)]
    (_step, total, ce, align), = rows(db, "SELECT 1, (SELECT loss FROM training_log WHERE step = 1 AND objective = 'total'),"
                                      " (SELECT loss FROM training_log WHERE step = 1 AND objective = 'contrastive'),"
                                      " (SELECT loss FROM training_log WHERE step = 1 AND objective = 'align')")
    assert total == pytest.approx(ce + 2 * align, rel=1e-5) and align > 0


def test_leakage_is_refused_then_allowed_and_marked(small_store, db, tiny_bert):
    before = snapshot(db)
    result = small_store("train", "--name", "leaky", "--base", tiny_bert, "--split", "test", "--steps", "1", *TINY_ARGS, ok=False)
    assert result.exit_code == 2 and "evaluation split" in result.output and "--allow-leakage" in result.output
    assert snapshot(db) == before
    result = small_store("train", "--name", "leaky", "--base", tiny_bert, "--split", "test", "--allow-leakage", "--steps", "1", *TINY_ARGS)
    assert "KEPT (--allow-leakage" in result.output
    assert rows(db, "SELECT allow_leakage FROM training_runs WHERE name = 'leaky'") == [(1,)]
    summary = json.loads(rows(db, "SELECT summary_json FROM invocations WHERE step = 'train'")[0][0])
    assert summary["allow_leakage"] is True and sum(summary["leaks"].values()) > 0


def test_hard_negatives_from_a_bm25_index(small_store, db, tiny_bert):
    from xlcli.train.negatives import mine
    from xlcli.train.pairs import build
    from xlcli.train.sources import PairSource

    small_store("index", "--name", "bm25", "--bm25")
    with open_store(db, write=False) as store, store.read() as conn:
        dataset = dict(conn.execute(text("SELECT * FROM datasets WHERE name = 'small'")).mappings().one())
        pairs = build(conn, dataset, (PairSource("queries", ("en",)),)).pairs
        negatives = mine(conn, "bm25", dataset, pairs, depth=3)
        scope_of = dict(conn.execute(text("SELECT id, scope FROM passages")).all())
    assert negatives and all(0 < len(n) <= 3 for n in negatives.values())
    for index, found in negatives.items():
        assert not {pid for pid, _ in found} & pairs[index].positives
        assert {scope_of[pid] for pid, _ in found} == {pairs[index].scope}  # searched within the conversation
    result = small_store("train", "--name", "hn", "--base", tiny_bert, "--hard-negatives", "bm25", "--steps", "2", *TINY_ARGS)
    assert "mined hard negatives" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--pairs", "queries:en,it"), "--pairs queries:it: dataset 'small' has no Italian queries"),
        (("--pairs", "generated:es"), "no generated Spanish queries"),
        (("--base", "./no-such-model"), "model ./no-such-model: no such directory"),
        (("--typo-aware", "1.5"), "--typo-aware 1.5: give a probability between 0 and 1"),
        (("--parallel", "tatoeba-xx"), "--parallel tatoeba-xx: no such parallel dataset"),
        (("--hard-negatives", "nope"), "no index 'nope'"),
        (("--dataset", "nope"), "no dataset 'nope'"),
        (("--epochs", "1", "--steps", "2"), "either --epochs or --steps"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_the_store_unchanged(small_store, db, tiny_bert, args, message):
    before = snapshot(db)
    result = small_store("train", "--name", "bad", "--base", tiny_bert, *TINY_ARGS, *args, ok=False)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("Error:") == 1 and "Traceback" not in result.output
    assert snapshot(db) == before


def test_a_name_used_with_other_parameters_is_refused(small_store, db, tiny_bert):
    small_store("train", "--name", "mine", "--base", tiny_bert, "--steps", "1", *TINY_ARGS)
    before = snapshot(db)
    result = small_store("train", "--name", "mine", "--base", tiny_bert, "--steps", "1", *TINY_ARGS, "--seed", "5", ok=False)
    assert result.exit_code == 2 and "a training run of that name exists with other parameters (seed: 0 → 5)" in result.output
    assert snapshot(db) == before


def test_bad_parallel_files_are_refused_with_line_numbers(cli, db, small_locomo_file, tmp_path, parallel_files):
    cli("ingest", "locomo", small_locomo_file, "--name", "small")
    src, eng = parallel_files
    short = tmp_path / "short.eng"
    short.write_text("I have a dog.\nI like music.\nMy sister lives in Madrid.\n", encoding="utf-8")
    before = snapshot(db)
    result = cli("ingest", "parallel", src, short, "--lang", "es", ok=False)
    assert result.exit_code == 2 and "has 5 lines but" in result.output and "lines 4-5 of" in result.output
    result = cli("ingest", "parallel", src, eng, "--lang", "en", ok=False)
    assert result.exit_code == 2 and "--lang en" in result.output
    result = cli("ingest", "parallel", src, eng, "--lang", "es", "--name", "small", ok=False)
    assert result.exit_code == 2 and "is a locomo dataset" in result.output
    assert snapshot(db) == before


def test_base_can_be_a_registered_checkpoint_and_epochs_set_the_steps(small_store, db, tiny_bert):
    import math

    small_store("train", "--name", "first", "--base", tiny_bert, "--steps", "1", *TINY_ARGS)
    result = small_store("train", "--name", "second", "--base", "first", "--epochs", "2", *TINY_ARGS, "--json")
    summary = json.loads(result.output[result.output.index("{"):])
    (pairs,), = rows(db, "SELECT count(*) FROM qrels r JOIN queries q ON q.id = r.query_id WHERE q.split = 'train' AND q.lang = 'en'")
    assert summary["pairs"] == pairs and summary["steps"] == math.ceil(2 * pairs / 4)
    (base_name,), = rows(db, "SELECT b.name FROM models m JOIN models b ON b.id = m.base_model_id WHERE m.name = 'second'")
    assert base_name == "first"


def test_align_pairs_aligns_translated_queries_in_the_batch(small_store, db, tiny_bert):
    small_store("train", "--name", "pairs-aligned", "--base", tiny_bert, "--pairs", "queries:en,es,de,ru", "--align-pairs",
                "--align-weight", "3", "--steps", "2", *TINY_ARGS)
    log = {(s, o): v for s, o, v in rows(db, "SELECT step, objective, loss FROM training_log")}
    assert {o for _, o in log} == {"align_pairs", "contrastive", "total"}
    for step in (1, 2):
        assert log[(step, "total")] == pytest.approx(log[(step, "contrastive")] + 3 * log[(step, "align_pairs")], rel=1e-5)
    assert any(log[(s, "align_pairs")] > 0 for s in (1, 2))  # 3 of 9 pairs are translations: most batches hold one


def test_a_run_being_trained_by_a_live_process_is_not_trained_twice(small_store, db, tiny_bert):
    import socket
    import subprocess
    import sys

    args = ("train", "--name", "busy", "--base", tiny_bert, "--steps", "1", *TINY_ARGS)
    small_store(*args)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open_store(db) as store, store.write() as conn:  # as a live `xlcli train` leaves it mid-run
            conn.execute(text("UPDATE training_runs SET status = 'running' WHERE name = 'busy'"))
            conn.execute(text("UPDATE invocations SET state = 'running', pid = :p, host = :h WHERE step = 'train'"),
                         {"p": other.pid, "h": socket.gethostname()})
        result = small_store(*args, ok=False)
        assert result.exit_code == 2 and f"being trained right now by process {other.pid}" in result.output
    finally:
        other.kill()
        other.wait()
    assert "busy: trained 1 steps" in small_store(*args).output  # its process is gone: resumed (here: finished)
