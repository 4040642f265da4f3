"""QG augmentation: the fusion formula by hand, and augmented indexes that differ from the plain one
by exactly e_aug = (1 − α)·e_p + α·Σ e_q (vectors read back with `xlcli sql`, checked with numpy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import beir_folder, load_encoder, snapshot

from xlcli import augment
from xlcli.errors import XlcliError
from xlcli.store import open_store


def test_fuse_by_hand():
    passages = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    queries = np.array([[1.0, 1.0], [0.0, 2.0]], dtype=np.float32)  # both belong to passage 0
    # sum, α = 0.1: 0.9·(1, 0) + 0.1·(1, 3) = (1.0, 0.3); passage 1 has none: 0.9·(0, 1)
    np.testing.assert_allclose(augment.fuse(passages, queries, [0, 0], 0.1, "sum"), [[1.0, 0.3], [0.0, 0.9]], atol=1e-7)
    # mean, α = 0.1: 0.9·(1, 0) + 0.1·(0.5, 1.5) = (0.95, 0.15); passage 1 unchanged
    np.testing.assert_allclose(augment.fuse(passages, queries, [0, 0], 0.1, "mean"), [[0.95, 0.15], [0.0, 1.0]], atol=1e-7)
    # α = 0 is the plain index; α = 1 is the sum of the queries alone
    np.testing.assert_array_equal(augment.fuse(passages, queries, [0, 0], 0.0), passages)
    np.testing.assert_allclose(augment.fuse(passages, queries, [0, 1], 1.0), queries, atol=1e-7)


@pytest.mark.parametrize("alpha", [-0.01, 1.5, float("nan")])
def test_fuse_refuses_alpha_outside_unit_interval(alpha):
    with pytest.raises(XlcliError, match="--alpha"):
        augment.fuse(np.zeros((1, 2)), np.zeros((0, 2)), [], alpha)


def sql_json(cli, query: str) -> list[dict]:
    return json.loads(cli("sql", "--json", query).stdout)


def vectors(cli, index: str) -> dict[int, np.ndarray]:
    (row,) = sql_json(cli, f"SELECT vec_table FROM indexes WHERE name = '{index}'")
    found = sql_json(cli, f"SELECT passage_id, vec_to_json(embedding) AS v FROM {row['vec_table']}")
    return {r["passage_id"]: np.array(json.loads(r["v"]), dtype=np.float32) for r in found}


def generated(cli, run: str, langs: tuple[str, ...] | None = None) -> dict[int, list[str]]:
    where = f" AND q.lang IN ({','.join(repr(lang) for lang in langs)})" if langs else ""
    found: dict[int, list[str]] = {}
    for r in sql_json(cli, "SELECT q.passage_id, q.text FROM generated_queries q JOIN generator_runs g"
                           f" ON g.id = q.generator_run_id WHERE g.name = '{run}'{where}"):
        found.setdefault(r["passage_id"], []).append(r["text"])
    return found


@pytest.fixture
def generated_store(small_store, lexicons):
    small_store("generate", "queries", "--lexicon", f"es={lexicons / 'en-es.txt'}",
                "--lexicon", f"de={lexicons / 'en-de.txt'}", "--per-lang", "3")
    return small_store


def build(db: Path, name: str, model: Path, augment_run: str | None = None, **options):
    from xlcli.index import build as build_index

    with open_store(db) as store:
        record, factory = augment.for_index(store, name, None, augment_run, **options)
        return build_index(store, name, model=str(model), batch_size=4, device="cpu", augmentation=record,
                           vectorizer_factory=factory, show_progress=False)


def test_augmented_index_is_plain_plus_alpha_times_sum(generated_store, db, fake_model):
    # The fusion arithmetic holds for any encoder: the torch-free fake stands in for one.
    cli = generated_store
    build(db, "plain", fake_model)
    build(db, "aug", fake_model, "lexicon-es-de", alpha=0.01)
    build(db, "aug-mean-es", fake_model, "lexicon-es-de", alpha=0.3, fusion="mean", gen_langs="es")
    plain, aug, mean_es = vectors(cli, "plain"), vectors(cli, "aug"), vectors(cli, "aug-mean-es")
    encoder = load_encoder(db, fake_model)

    queries = generated(cli, "lexicon-es-de")
    assert set(queries) == set(plain) and all(len(q) == 6 for q in queries.values())
    for pid, texts in queries.items():
        expected = 0.99 * plain[pid].astype(np.float64) + 0.01 * encoder.encode_queries(texts, max_length=32).sum(axis=0)
        np.testing.assert_allclose(aug[pid], expected, atol=2e-6)
        assert not np.allclose(aug[pid], plain[pid], atol=1e-4)
    for pid, texts in generated(cli, "lexicon-es-de", ("es",)).items():
        expected = 0.7 * plain[pid].astype(np.float64) + 0.3 * encoder.encode_queries(texts, max_length=32).mean(axis=0)
        np.testing.assert_allclose(mean_es[pid], expected, atol=2e-6)

    records = {r["name"]: json.loads(r["augmentation_json"]) if r["augmentation_json"] else None
               for r in sql_json(cli, "SELECT name, augmentation_json FROM indexes")}
    assert records["plain"] is None
    assert {k: records["aug"][k] for k in ("generator_runs", "alpha", "fusion", "gen_langs", "queries_used", "query_max_length")} == {
        "generator_runs": ["lexicon-es-de"], "alpha": 0.01, "fusion": "sum", "gen_langs": None,
        "queries_used": 16 * 6, "query_max_length": 32}
    assert records["aug-mean-es"]["queries_per_lang"] == {"es": 16 * 3} and records["aug-mean-es"]["gen_langs"] == ["es"]


@pytest.mark.parametrize(
    "run, options, message",
    [
        ("other-run", {}, "belongs to dataset 'tiny'"),
        ("nope", {}, "--augment nope: no such generator run (runs of this dataset: lexicon-es-de)"),
        ("lexicon-es-de", {"alpha": 1.5}, "--alpha 1.5: must lie in [0, 1]"),
        ("lexicon-es-de", {"alpha": -0.1}, "--alpha -0.1: must lie in [0, 1]"),
        ("lexicon-es-de", {"fusion": "max"}, "--fusion max"),
        ("lexicon-es-de", {"gen_langs": "fr"}, "--gen-langs: no generated queries in fr"),
        (None, {"alpha": 0.5}, "--alpha only apply with --augment"),
    ],
)
def test_bad_augmentation_is_refused_before_writing(generated_store, db, tmp_path, lexicons, run, options, message):
    cli = generated_store
    cli("ingest", "beir", beir_folder(tmp_path / "tiny", {"d1": "The old cello case."}, {"q1": "cello case"}), "--name", "tiny")
    cli("generate", "queries", "--dataset", "tiny", "--lexicon", f"es={lexicons / 'en-es.txt'}", "--name", "other-run")
    before = snapshot(db)
    with open_store(db) as store:
        with pytest.raises(XlcliError) as caught:
            augment.for_index(store, "aug", "small", run, **options)
    assert message in str(caught.value)
    assert snapshot(db) == before


def test_fixture_acceptance_through_the_cli(cli, db, fixture_locomo, lexicons, fake_model):
    cli("ingest", "locomo", fixture_locomo, "--name", "fixture")
    cli("generate", "queries", "--backend", "lexicon",
        *[a for lang in ("es", "de", "fr", "ru") for a in ("--lexicon", f"{lang}={lexicons / f'en-{lang}.txt'}")])
    cli("index", "--name", "plain", "--device", "cpu", "--model", fake_model)
    result = cli("index", "--name", "xqg", "--device", "cpu", "--model", fake_model, "--augment", "lexicon-es-de-fr-ru", "--alpha", "0.01")
    assert "passages indexed" in result.output
    plain, aug = vectors(cli, "plain"), vectors(cli, "xqg")
    queries = generated(cli, "lexicon-es-de-fr-ru")
    assert set(aug) == set(plain) == set(queries) and {len(q) for q in queries.values()} == {20}
    encoder = load_encoder(db, fake_model)
    for pid in sorted(queries)[::37]:  # a spread of passages (encoding all 13k queries again adds nothing)
        expected = 0.99 * plain[pid].astype(np.float64) + 0.01 * encoder.encode_queries(queries[pid], max_length=32).sum(axis=0)
        np.testing.assert_allclose(aug[pid], expected, atol=2e-6)
    (record,) = sql_json(cli, "SELECT json_extract(augmentation_json, '$.alpha') AS alpha,"
                              " json_extract(augmentation_json, '$.queries_used') AS used FROM indexes WHERE name = 'xqg'")
    assert record == {"alpha": 0.01, "used": 20 * len(queries)}


@pytest.mark.parametrize(
    "args, message",
    [
        (("--augment", "other-run"), "belongs to dataset 'tiny'"),
        (("--augment", "lexicon-es-de", "--alpha", "2"), "--alpha 2.0: must lie in [0, 1]"),
        (("--alpha", "0.5"), "--alpha only apply with --augment"),
    ],
)
def test_index_command_refuses_bad_augmentation(generated_store, db, tmp_path, lexicons, fake_model, args, message):
    cli = generated_store
    cli("ingest", "beir", beir_folder(tmp_path / "tiny", {"d1": "The old cello case."}, {"q1": "cello case"}), "--name", "tiny")
    cli("generate", "queries", "--dataset", "tiny", "--lexicon", f"es={lexicons / 'en-es.txt'}", "--name", "other-run")
    before = snapshot(db)
    result = cli("index", "--name", "aug", "--dataset", "small", "--model", fake_model, *args, ok=False)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(db) == before
