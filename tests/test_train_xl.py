"""train, issue 13, through the real CLI and store: translate-train rows, the leakage guard on them,
every new objective in one run, mixing proportions recorded, and bad input (tiny BERT, small LoCoMo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from xlcli.store import open_store
from xlcli.train.pairs import build, holdout, normalise_text
from xlcli.train.sources import PairSource
from xlcli.train.translate import WordTranslator

TINY_ARGS = ("--batch-size", "4", "--max-length", "32", "--lr", "1e-3")
ES = {"what": "qué", "is": "es", "the": "el", "name": "nombre", "of": "de", "dog": "perro", "jolene": "jolena", "when": "cuándo",
      "did": "hizo", "run": "correr", "half": "media", "marathon": "maratón", "where": "dónde", "travelling": "viajando", "in": "en",
      "does": "hace", "restore": "restaurar", "and": "y", "who": "quién", "wants": "quiere", "to": "a", "ride": "montar", "it": "lo"}
DE = {"what": "was", "is": "ist", "the": "der", "name": "Name", "of": "von", "dog": "Hund", "when": "wann", "where": "wo"}


def rows(db: Path, sql: str, **params):
    with open_store(db, write=False) as store, store.read() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def dump(db: Path) -> dict:
    with open_store(db, write=False) as store, store.read() as conn:
        tables = [n for (n,) in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))]
        return {t: [tuple(r) for r in conn.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY rowid').all()] for t in tables}


@pytest.fixture
def lexicons(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for lang, entries in (("es", ES), ("de", DE)):
        paths[lang] = tmp_path / f"en-{lang}.txt"
        paths[lang].write_text("".join(f"{en} {xx}\n" for en, xx in entries.items()), encoding="utf-8")
    return paths


def test_translate_train_rows_are_stored_with_provenance_once_and_guarded(small_store, db, tiny_bert, lexicons):
    args = ("--pairs", "queries:en,translated:es,de", f"--lexicon=es={lexicons['es']}", f"--lexicon=de={lexicons['de']}")
    result = small_store("train", "--name", "tt", "--base", tiny_bert, "--steps", "2", *TINY_ARGS, *args, "--json")
    summary = json.loads(result.output[result.output.index("{"):])
    stored = rows(db, "SELECT q.lang, q.text, q.split, q.translator, s.lang, s.text, s.split, q.invocation_id FROM queries q"
                      " JOIN queries s ON s.id = q.source_query_id WHERE q.translator LIKE 'lexicon:%' ORDER BY q.id")
    english = rows(db, "SELECT text FROM queries q WHERE lang = 'en' AND split = 'train' AND translator = ''"
                       " AND EXISTS (SELECT 1 FROM qrels r WHERE r.query_id = q.id)")
    assert summary["translated_queries_added"] == len(stored) > 0
    assert {r[5] for r in stored} <= {e for (e,) in english} and {r[0] for r in stored} == {"es", "de"}
    assert {r[2] for r in stored} == {r[6] for r in stored} == {"train"} and {r[4] for r in stored} == {"en"}
    spanish = {r[5]: r[1] for r in stored if r[0] == "es"}
    assert spanish["What is the name of Jolene's dog?"] == "qué es el nombre de Jolene's perro?"  # the name is kept
    translators = {lang: {r[3] for r in stored if r[0] == lang} for lang in ("es", "de")}
    assert all(len(t) == 1 for t in translators.values()) and translators["es"] != translators["de"]  # one per dictionary
    assert all(t.startswith("lexicon:") and len(t) == len("lexicon:") + 12 for (t,) in translators.values())
    (train_inv,), = rows(db, "SELECT invocation_id FROM training_runs WHERE name = 'tt'")
    assert {r[7] for r in stored} == {train_inv}
    # Their qrels are the English questions' (inspectable with SQL), and a re-run adds nothing.
    mismatched = rows(db, "SELECT q.id FROM queries q WHERE q.translator LIKE 'lexicon:%' AND"
                          " (SELECT group_concat(passage_id) FROM (SELECT passage_id FROM qrels WHERE query_id = q.id ORDER BY 1)) IS NOT"
                          " (SELECT group_concat(passage_id) FROM (SELECT passage_id FROM qrels WHERE query_id = q.source_query_id ORDER BY 1))")
    assert mismatched == []
    before = dump(db)
    again = small_store("train", "--name", "tt", "--base", tiny_bert, "--steps", "2", *TINY_ARGS, *args)
    assert "nothing to do" in again.output and dump(db) == before
    # Another run with the same dictionaries reuses the rows.
    small_store("train", "--name", "tt2", "--base", tiny_bert, "--steps", "1", *TINY_ARGS, *args)
    assert len(rows(db, "SELECT id FROM queries WHERE translator LIKE 'lexicon:%'")) == len(stored)


def test_translated_pairs_never_come_from_evaluation_questions_and_pass_the_leakage_guard(small_store, db, lexicons):
    from xlcli.generate.lexicon import read_muse

    with open_store(db) as store, store.read() as conn:
        dataset = dict(conn.execute(text("SELECT * FROM datasets WHERE name = 'small'")).mappings().one())
        passages = [t for (t,) in conn.execute(text("SELECT text FROM passages"))]
        translator = WordTranslator({"es": read_muse(lexicons["es"])}, passages)
        test_ext = {e for (e,) in conn.execute(text("SELECT ext_id FROM queries WHERE split = 'test'"))}
        pairs = build(conn, dataset, (PairSource("translated", ("es",)),), translator=translator).pairs
        assert pairs and all(p.source == "translated:es" and p.ext_id not in test_ext and p.en_query for p in pairs)
        # An evaluation query equal to a training question's translation: that pair is left out as a leak.
        held = holdout(conn, dataset["id"])
        held.texts.add(normalise_text(pairs[0].query))
        guarded = build(conn, dataset, (PairSource("translated", ("es",)),), translator=translator, holdout_=held)
    assert pairs[0].query not in {p.query for p in guarded.pairs}
    assert guarded.leaks["text equal to an evaluation query, translation or variant"] >= 1


def test_every_cross_lingual_objective_in_one_run_is_logged_recorded_and_described(small_store, db, tiny_bert, lexicons):
    result = small_store(
        "train", "--name", "xl", "--base", tiny_bert, "--steps", "3", *TINY_ARGS,
        "--pairs", "queries:en@1,queries:es,de@1,translated:es,de@0.5", f"--lexicon=es={lexicons['es']}", f"--lexicon=de={lexicons['de']}",
        "--code-switch", "0.4", "--code-switch-queries", "1", "--xl-teaching", "1", "--teacher", tiny_bert,
        "--typo-aware", "0.5", "--self-teaching", "--typo-contrast", "0.5", "--typo-positives", "2")
    assert "Recipe: queries:en@1,queries:es,de@1,translated:es,de@0.5; typo-aware 0.5; self-teaching; code-switch 0.4;" in result.output
    assert "Batches mixed by weight:" in result.output
    log = {(s, o): v for s, o, v in rows(db, "SELECT step, objective, loss FROM training_log")}
    assert {o for _, o in log} == {"contrastive", "self_teaching", "xl_teaching", "typo_contrast", "total"}
    for step in (1, 2, 3):
        assert log[(step, "xl_teaching")] > 0 and log[(step, "typo_contrast")] > 0
        parts = log[(step, "contrastive")] + log[(step, "self_teaching")] + log[(step, "xl_teaching")] + 0.5 * log[(step, "typo_contrast")]
        assert log[(step, "total")] == pytest.approx(parts, rel=1e-5)
    (config,), = rows(db, "SELECT config_json FROM training_runs WHERE name = 'xl'")
    config = json.loads(config)
    assert config["code_switch"] == 0.4 and config["xl_teaching"] == 1.0 and config["typo_contrast"] == 0.5
    mix = config["realised_mix"]
    assert set(mix) == {"queries:en", "queries:es", "queries:de", "translated:es", "translated:de"}
    assert sum(mix.values()) == pytest.approx(1.0, abs=1e-3)
    assert mix["queries:en"] == pytest.approx(1 / 2.5, abs=0.1) and mix["translated:es"] == pytest.approx(0.25 / 2.5, abs=0.1)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--code-switch", "1"), "--code-switch 1: give the fraction of words to switch, in [0, 1)"),
        (("--code-switch", "0.3"), "--code-switch needs the dictionaries of the languages to switch into"),
        (("--xl-teaching", "1"), "--xl-teaching: none of the pairs of --pairs queries:en has a known English source"),
        (("--pairs", "queries:en,translated:es,de", "--lexicon=es={es}"), "--pairs translated:es,de: no --lexicon for German"),
        (("--pairs", "queries:en@0"), "--pairs queries:...@0: give a mixing weight > 0"),
        (("--pairs", "queries:en@-2,translated:es@1", "--lexicon=es={es}"), "give a mixing weight > 0"),
        (("--pairs", "translated:es", "--lexicon=es={missing}"), "no-such-lexicon.txt"),
        (("--pairs", "translated:es", "--lexicon=es={bad}"), "expected `source target`"),
        (("--lexicon", "es"), "--lexicon 'es': give LANG=PATH"),
    ],
)
def test_bad_cross_lingual_input_is_one_line_exit_2_and_leaves_the_store_unchanged(small_store, db, tiny_bert, lexicons, tmp_path, args, message):
    bad = tmp_path / "bad.txt"
    bad.write_text("what qué\nthree words here\n", encoding="utf-8")
    paths = {"es": lexicons["es"], "missing": tmp_path / "no-such-lexicon.txt", "bad": bad}
    before = dump(db)
    result = small_store("train", "--name", "bad", "--base", tiny_bert, *TINY_ARGS, *(a.format(**paths) for a in args), ok=False)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("Error:") == 1 and "Traceback" not in result.output
    assert dump(db) == before


def test_a_run_with_mixing_and_every_new_objective_resumes_to_the_weights_of_an_uninterrupted_one(small_store, db, tiny_bert, lexicons, tmp_path):
    import torch
    from safetensors.torch import load_file

    from xlcli.train.config import TrainConfig
    from xlcli.train.loop import Trainer
    from xlcli.train.plan import prepare
    from xlcli.train.sources import parse_pair_sources
    from xlcli.train.translate import parse_lexicons

    config = TrainConfig(
        name="resumable", base=str(tiny_bert), pairs=parse_pair_sources("queries:en@1,queries:es,de@1,translated:es,de@0.5"),
        lexicons=parse_lexicons([f"es={lexicons['es']}", f"de={lexicons['de']}"]), code_switch=0.4, code_switch_queries=1.0,
        xl_teaching=1.0, typo_aware=0.5, typo_contrast=0.5, steps=4, save_every=2, batch_size=4, max_length=32, lr=1e-3, device="cpu")

    class Interrupted(Exception):
        pass

    def train(run_dir: Path, stop_at: int | None) -> None:
        with open_store(db) as store:
            plan = prepare(store, config)

        def on_checkpoint(step, folder, final):
            if step == stop_at:
                raise Interrupted

        Trainer(plan.config, plan.encoder, plan.data, run_dir, steps=plan.steps, typos=plan.typos, batch_size=plan.batch_size,
                on_checkpoint=on_checkpoint).run()

    train(tmp_path / "straight", None)
    with pytest.raises(Interrupted):
        train(tmp_path / "resumed", 2)
    assert not (tmp_path / "resumed" / "step-4").exists()
    train(tmp_path / "resumed", None)
    final, reference = (load_file(tmp_path / d / "step-4" / "model.safetensors") for d in ("resumed", "straight"))
    start = load_file(Path(tiny_bert) / "model.safetensors")
    assert any(not torch.equal(reference[k], start[k]) for k in reference)
    for key in reference:
        assert torch.allclose(final[key], reference[key], atol=1e-6, rtol=0), key


def test_the_report_describes_a_trained_system_by_its_recipe(small_store, db, tiny_bert, lexicons):
    small_store("train", "--name", "cs", "--base", tiny_bert, "--steps", "1", *TINY_ARGS, "--pairs", "queries:en,es@1",
                f"--lexicon=es={lexicons['es']}", "--code-switch", "0.3", "--typo-contrast", "0.5")
    small_store("index", "--name", "ix-cs", "--model", "cs")
    small_store("eval", "--index", "ix-cs", "--langs", "en", "--split", "test", "--measures", "R@10")
    records = json.loads(small_store("report", "--format", "json").output)["rows"]
    assert {r["recipe"] for r in records} == {"queries:en,es@1; code-switch 0.3; typo-contrast 0.5×2; 1 steps × 4"}
    assert "ix-cs: trained with queries:en,es@1; code-switch 0.3" in small_store("report", "--format", "md").output
