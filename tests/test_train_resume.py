"""train is resumable: kill -9 a real `xlcli train` after its first checkpoint, run the same command
again, and the final weights equal those of an uninterrupted run with the same seed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sqlalchemy import text

from xlcli.store import open_store

pytestmark = pytest.mark.slow

STEPS, SAVE_EVERY = 200, 20


def _command(db: Path, tiny_bert: Path) -> list[str]:
    # Every stateful source of randomness is exercised: dropout (tiny BERT trains with dropout 0.1),
    # misspellings (typo-aware + self-teaching), the data order, and the alignment batches.
    return [
        sys.executable, "-c", "from xlcli.cli import main; main()", "--db", str(db), "train", "--name", "resumable",
        "--base", str(tiny_bert), "--pairs", "queries:en,es,de,fr,ru", "--typo-aware", "0.5", "--self-teaching",
        "--parallel", "tatoeba-es", "--steps", str(STEPS), "--save-every", str(SAVE_EVERY), "--batch-size", "4",
        "--max-length", "32", "--lr", "1e-3", "--seed", "11", "--device", "cpu",
    ]


def _losses(db: Path) -> dict:
    with open_store(db, write=False) as store, store.read() as conn:
        return {(r.step, r.objective): r.loss for r in conn.execute(text("SELECT step, objective, loss FROM training_log"))}


def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(small_store, db, tiny_bert, tmp_path):
    es, en = tmp_path / "t.spa", tmp_path / "t.eng"
    es.write_text("Tengo un perro.\nMe gusta la música.\nEl gato duerme.\n", encoding="utf-8")
    en.write_text("I have a dog.\nI like music.\nThe cat sleeps.\n", encoding="utf-8")
    small_store("ingest", "parallel", es, en, "--lang", "es", "--name", "tatoeba-es")
    twin = tmp_path / "twin" / "store.db"  # the same store in another folder (its own xlcli-models/)
    twin.parent.mkdir()
    shutil.copy(db, twin)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    subprocess.run(_command(twin, tiny_bert), check=True, capture_output=True, env=env, timeout=600)

    process = subprocess.Popen(_command(db, tiny_bert), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    first = db.parent / "xlcli-models" / "resumable" / f"step-{SAVE_EVERY}" / "xlcli_checkpoint.json"
    deadline = time.monotonic() + 300
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    with open_store(db, write=False) as store, store.read() as conn:
        assert conn.execute(text("SELECT status FROM training_runs")).scalar_one() == "running"
    assert not (db.parent / "xlcli-models" / "resumable" / f"step-{STEPS}").exists()

    resumed = subprocess.run(_command(db, tiny_bert), check=True, capture_output=True, text=True, env=env, timeout=600)
    assert "resumed at step" in resumed.stdout

    final = load_file(db.parent / "xlcli-models" / "resumable" / f"step-{STEPS}" / "model.safetensors")
    reference = load_file(twin.parent / "xlcli-models" / "resumable" / f"step-{STEPS}" / "model.safetensors")
    start = load_file(Path(tiny_bert) / "model.safetensors")
    assert final.keys() == reference.keys()
    assert any(not torch.equal(final[k], start[k]) for k in final)  # it did train
    for key in final:
        assert torch.allclose(final[key], reference[key], atol=1e-6, rtol=0), key
    ours, theirs = _losses(db), _losses(twin)
    assert ours.keys() == theirs.keys() and len({s for s, _ in ours}) == STEPS
    assert all(ours[k] == pytest.approx(theirs[k], rel=1e-5, abs=1e-7) for k in ours)
    with open_store(db, write=False) as store, store.read() as conn:
        assert conn.execute(text("SELECT status FROM training_runs")).scalar_one() == "done"
        names = [n for (n,) in conn.execute(text("SELECT name FROM models WHERE source = 'checkpoint' ORDER BY step"))]
    assert names == [f"resumable@step-{s}" for s in range(SAVE_EVERY, STEPS, SAVE_EVERY)] + ["resumable"]
