"""``index --precision``: bf16 vectors near fp32 ones, the precision recorded with the index, a
resume in another precision refused before any write, and eval/search encoding queries in the
index's own precision (tiny BERT built in the test, CPU)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import assert_refused, corpus_texts, load_encoder, make_tiny_bert, small_locomo, snapshot
from test_index import index_vectors

from xlcli.encoders import PRECISIONS, precision_missing, recorded_precision
from xlcli.errors import XlcliError
from xlcli.eval.retrieve import Retriever
from xlcli.models import resolve_model
from xlcli.search import run_query
from xlcli.store import open_store

BF16 = precision_missing("bf16", "cpu") is None
needs_bf16 = pytest.mark.skipif(not BF16, reason="this CPU has no native bfloat16 (index refuses bf16 here, tested below)")


@pytest.fixture(scope="module")
def loud_bert(tmp_path_factory):
    """The tiny BERT with its projections and word embeddings scaled by 8. Freshly initialised, a tiny
    BERT's output is mostly its embeddings, which autocast leaves in float32, so bf16 would change it
    by only ~3e-5; scaled, its layers weigh as a trained model's do, and bf16 moves vectors by ~2e-3."""
    import torch
    from transformers import BertModel

    folder = make_tiny_bert(tmp_path_factory.mktemp("loud-bert"), corpus_texts())
    model = BertModel.from_pretrained(folder)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.mul_(8)
        model.embeddings.word_embeddings.weight.mul_(8)
    model.save_pretrained(folder)
    return folder


def index_params(db, name: str) -> dict:
    with open_store(db, write=False) as store, store.read() as conn:
        return json.loads(conn.exec_driver_sql("SELECT params_json FROM indexes WHERE name = ?", (name,)).scalar_one())


def dense(small_store, name: str, model, *options: str, ok: bool = True):
    return small_store("index", "--name", name, "--model", model, "--device", "cpu", "--batch-size", "4", *options, ok=ok)


def cosines(a: dict, b: dict) -> np.ndarray:
    assert sorted(a) == sorted(b)
    return np.array([float(a[k] @ b[k] / (np.linalg.norm(a[k]) * np.linalg.norm(b[k]))) for k in sorted(a)])


@needs_bf16
def test_bf16_vectors_are_close_to_fp32_ones_but_computed_otherwise_and_recorded(small_store, db, loud_bert):
    dense(small_store, "exact", loud_bert)
    dense(small_store, "reduced", loud_bert, "--precision", "bf16")
    exact, reduced = index_vectors(db, "exact"), index_vectors(db, "reduced")
    assert cosines(exact, reduced).min() > 0.99
    # Really another arithmetic: its differences dwarf those of fp32 in other batch shapes (one text a batch).
    with open_store(db, write=False) as store, store.read() as conn:
        passages = conn.exec_driver_sql("SELECT id, text FROM passages ORDER BY id").all()
    with open_store(db, write=False) as store:
        settings = resolve_model(store, str(loud_bert))[1]
    alone = dict(zip((p.id for p in passages), settings.load("cpu", "fp32").encode_passages([p.text for p in passages], batch_size=1)))
    shape_noise = max(float(np.abs(exact[k] - alone[k]).max()) for k in exact)
    assert max(float(np.abs(exact[k] - reduced[k]).max()) for k in exact) > 10 * max(shape_noise, 1e-7)
    assert all(v.dtype == np.float32 for v in reduced.values())
    assert (index_params(db, "exact")["precision"], index_params(db, "reduced")["precision"]) == ("fp32", "bf16")
    # The stored vectors are the bf16 encoder's (here one text a batch, so nearly but not exactly).
    encoder = settings.load("cpu", "bf16")
    assert encoder.precision == "bf16"
    single = encoder.encode_passages([p.text for p in passages], batch_size=1)
    assert cosines(reduced, {p.id: v for p, v in zip(passages, single)}).min() > 0.999


@needs_bf16
def test_a_resume_keeps_the_index_precision_and_refuses_another(cli, db, loud_bert, tmp_path):
    first, both = tmp_path / "first.json", tmp_path / "both.json"
    first.write_text(json.dumps(small_locomo()[:1]))
    both.write_text(json.dumps(small_locomo()))
    cli("ingest", "locomo", first, "--name", "small")
    command = ("index", "--name", "tiny", "--model", loud_bert, "--device", "cpu", "--json")
    one = json.loads(cli(*command, "--precision", "bf16").stdout)
    cli("ingest", "locomo", both, "--name", "small")
    before = snapshot(db)
    line = assert_refused(cli(*command, "--precision", "fp32", ok=False), db, before)
    assert "holds vectors computed in bf16, not fp32" in line
    assert "fp16" in assert_refused(cli(*command, "--precision", "fp16", ok=False), db, before)
    # auto on a resume means the index's own precision: the new passages are bf16 vectors too.
    two = json.loads(cli(*command).stdout)
    assert (two["already_indexed"], two["encoded"]) == (one["total"], two["total"] - one["total"])
    assert index_params(db, "tiny")["precision"] == "bf16"
    stored = index_vectors(db, "tiny")
    with open_store(db, write=False) as store, store.read() as conn:
        passages = conn.exec_driver_sql("SELECT id, text FROM passages ORDER BY id").all()
    with open_store(db, write=False) as store:
        settings = resolve_model(store, str(loud_bert))[1]
    texts = [p.text for p in passages]
    bf16 = dict(zip((p.id for p in passages), settings.load("cpu", "bf16").encode_passages(texts, batch_size=1)))
    fp32 = dict(zip((p.id for p in passages), settings.load("cpu", "fp32").encode_passages(texts, batch_size=1)))
    # Every stored vector (old and new passages) is nearer its bf16 encoding than its fp32 one.
    assert all(np.abs(stored[k] - bf16[k]).max() < np.abs(stored[k] - fp32[k]).max() for k in stored)
    # Naming the index's own precision is a no-op; so is auto.
    assert json.loads(cli(*command, "--precision", "bf16").stdout)["nothing_to_do"] is True
    assert json.loads(cli(*command).stdout)["nothing_to_do"] is True


@needs_bf16
def test_eval_and_search_encode_queries_in_the_index_precision(small_store, db, loud_bert):
    dense(small_store, "exact", loud_bert)
    dense(small_store, "reduced", loud_bert, "--precision", "bf16")
    query = "Where is Marcus travelling in August?"
    with open_store(db, write=False) as store:
        settings = resolve_model(store, str(loud_bert))[1]
        with store.read() as conn:
            rows = {r["name"]: r for r in conn.exec_driver_sql("SELECT * FROM indexes").mappings()}
        retriever = Retriever(store, device="cpu")
        assert (retriever.precision(rows["exact"]), retriever.precision(rows["reduced"])) == ("fp32", "bf16")
        reduced_q = retriever.query_vectors(settings, [query], precision=retriever.precision(rows["reduced"]))[0]
        exact_q = retriever.query_vectors(settings, [query], precision=retriever.precision(rows["exact"]))[0]
        # One model, two precisions: two encodings, not one cached for both.
        np.testing.assert_array_equal(reduced_q, settings.load("cpu", "bf16").encode_queries([query])[0])
        np.testing.assert_array_equal(exact_q, settings.load("cpu", "fp32").encode_queries([query])[0])
        assert np.abs(reduced_q - exact_q).max() > 1e-4
        ranked = retriever.rank(rows["reduced"], [query], [None], 3)[0]
        hits = run_query(store, "reduced", query, k=3, device="cpu")
    stored = index_vectors(db, "reduced")
    top, score = ranked[0]
    assert abs(score - float(stored[top] @ reduced_q)) < 1e-5
    assert abs(score - float(stored[top] @ exact_q)) > 1e-5
    assert abs(hits[0]["score"] - score) < 1e-5  # search: the same bf16 query vector
    small_store("eval", "--index", "reduced", "--device", "cpu")


def test_an_index_without_a_recorded_precision_is_what_its_device_computed(small_store, db, loud_bert):
    dense(small_store, "tiny", loud_bert)
    params = index_params(db, "tiny")
    assert params["precision"] == "fp32"
    legacy = {k: v for k, v in params.items() if k != "precision"}
    assert recorded_precision(legacy) == "fp32"
    assert recorded_precision({**legacy, "device": "cuda"}) == "fp16"
    assert recorded_precision({**params, "precision": None}) is None  # an encoder backend
    with open_store(db) as store, store.write() as conn:  # as an index built before the key existed
        conn.exec_driver_sql("UPDATE indexes SET params_json = ? WHERE name = 'tiny'", (json.dumps(legacy),))
    with open_store(db, write=False) as store, store.read() as conn:
        row = conn.exec_driver_sql("SELECT * FROM indexes WHERE name = 'tiny'").mappings().one()
    assert Retriever(open_store(db, write=False), device="cpu").precision(row) == "fp32"
    # An fp16 index (built on a GPU) evaluated on this CPU: fp32 queries where fp16 cannot run.
    fp16_row = {**row, "params_json": json.dumps({**legacy, "device": "cuda"})}
    expected = "fp16" if precision_missing("fp16", "cpu") is None else "fp32"
    assert Retriever(open_store(db, write=False), device="cpu").precision(fp16_row) == expected
    before = snapshot(db)
    other = "bf16" if BF16 else "fp16"
    line = assert_refused(small_store("index", "--name", "tiny", "--model", loud_bert, "--device", "cpu",
                                      "--precision", other, ok=False), db, before)
    assert other in line
    assert json.loads(small_store("index", "--name", "tiny", "--model", loud_bert, "--device", "cpu", "--json").stdout)["nothing_to_do"]


@pytest.mark.skipif(precision_missing("fp16", "cpu") is None, reason="this CPU computes fp16 natively")
def test_fp16_on_a_cpu_without_it_is_refused(small_store, db, loud_bert):
    before = snapshot(db)
    line = assert_refused(dense(small_store, "half", loud_bert, "--precision", "fp16", ok=False), db, before)
    assert "--precision fp16 on cpu" in line and "float16" in line


def test_bf16_on_a_cpu_without_it_is_refused_but_eval_falls_back_to_fp32(small_store, db, loud_bert, monkeypatch):
    if BF16:
        dense(small_store, "reduced", loud_bert, "--precision", "bf16")
    # This CPU's answer cannot be changed; the registry entry's is (one entry, as a CPU without bf16 gives).
    monkeypatch.setitem(PRECISIONS, "bf16", replace(PRECISIONS["bf16"], missing=lambda device: "no bfloat16 here"))
    before = snapshot(db)
    line = assert_refused(dense(small_store, "other", loud_bert, "--precision", "bf16", ok=False), db, before)
    assert "--precision bf16 on cpu: no bfloat16 here" in line
    if BF16:  # a bf16 index moved to such a machine: a resume is refused, eval encodes its queries in fp32
        line = assert_refused(dense(small_store, "reduced", loud_bert, ok=False), db, before)
        assert "computed in bf16" in line and "no bfloat16 here" in line
        with open_store(db, write=False) as store, store.read() as conn:
            row = conn.exec_driver_sql("SELECT * FROM indexes WHERE name = 'reduced'").mappings().one()
        assert Retriever(open_store(db, write=False), device="cpu").precision(row) == "fp32"


def test_a_backend_encoder_takes_no_precision(small_store, db, fake_model):
    before = snapshot(db)
    line = assert_refused(small_store("index", "--name", "f", "--model", fake_model, "--precision", "bf16", ok=False), db, before)
    assert "fake encoder" in line
    small_store("index", "--name", "f", "--model", fake_model)
    assert index_params(db, "f")["precision"] is None
    assert load_encoder(db, fake_model).dim == 64
    with pytest.raises(XlcliError, match="--precision fp8"):
        resolve_model(open_store(db, write=False), fake_model)[1].load("cpu", "fp8")


@needs_bf16
def test_a_pipeline_index_step_takes_the_precision(cli, db, loud_bert, small_locomo_file, tmp_path):
    config = tmp_path / "study.toml"
    config.write_text(
        f'[[step]]\nrun = "ingest locomo"\nfile = "{small_locomo_file}"\nname = "small"\n\n'
        f'[[step]]\nrun = "index"\nname = "reduced"\nmodel = "{loud_bert}"\ndevice = "cpu"\nprecision = "bf16"\n'
    )
    cli("pipeline", "run", config)
    assert index_params(db, "reduced")["precision"] == "bf16"
