"""xlcli rewrite in a real process: SIGKILL half-way, re-run, and the rows equal an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_store
from rewrite_helpers import LEXICONS, build_fixture_store, rewrites
from sqlalchemy import text

from xlcli.store import open_store

ARGS = ("rewrite", "--name", "lex", "--backend", "lexicon", *LEXICONS, "--batch-size", "20")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def _xlcli(db: Path, *args) -> list[str]:
    return [sys.executable, "-m", "xlcli", "--db", str(db), *map(str, args)]


def _count(db: Path) -> int:
    try:
        with open_store(db, write=False) as store, store.read() as conn:
            return conn.execute(text("SELECT count(*) FROM query_rewrites")).scalar_one()
    except Exception:  # busy being written: try again
        return 0


@pytest.mark.slow
def test_sigkill_half_way_then_rerun_gives_the_uninterrupted_result(tmp_path):
    base = build_fixture_store(tmp_path)
    db = copy_store(base, tmp_path / "killed.db")
    proc = subprocess.Popen(_xlcli(db, *ARGS), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while _count(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = rewrites(db, "lex")
    total = 4 * (186 + 1860)
    assert 0 < len(partial) < total, "the run was not interrupted half-way"
    assert len(partial) % 20 == 0  # whole batches only: each batch is one transaction

    subprocess.run(_xlcli(db, *ARGS), check=True, capture_output=True, env=ENV, timeout=300)
    resumed = rewrites(db, "lex")
    assert len(resumed) == len({r[:4] for r in resumed}) == total
    assert set(partial) <= set(resumed)

    fresh = copy_store(base, tmp_path / "fresh.db")
    subprocess.run(_xlcli(fresh, *ARGS), check=True, capture_output=True, env=ENV, timeout=300)
    assert rewrites(fresh, "lex") == resumed
    with open_store(db, write=False) as store, store.read() as conn:
        (state, attempts) = conn.execute(text("SELECT state, attempts FROM invocations WHERE step = 'rewrite'")).one()
        assert state == "done" and attempts == 2
        assert conn.execute(text("SELECT count(DISTINCT invocation_id) FROM query_rewrites")).scalar_one() == 1
