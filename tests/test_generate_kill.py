"""generate in a real process: SIGKILL half-way, re-run, and the rows equal an uninterrupted run's;
an unreachable hub id is one line and exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import generated_queries, make_tiny_t5, snapshot
from sqlalchemy import text

from xlcli.store import open_store

ARGS = ("generate", "queries", "--device", "cpu", "--langs", "es,de", "--per-lang", "5", "--max-new-tokens", "12",
        "--batch-size", "1", "--seed", "5")
# One intra-op thread: on a shared 2-core machine, two threads per tiny matmul wait on each other.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def _xlcli(db: Path, *args) -> list[str]:
    return [sys.executable, "-m", "xlcli", "--db", str(db), *map(str, args)]


def _count(db: Path) -> int:
    try:
        with open_store(db, write=False) as store, store.read() as conn:
            return conn.execute(text("SELECT count(*) FROM generated_queries")).scalar_one()
    except Exception:  # the store is busy being migrated or written: try again
        return 0


@pytest.mark.slow
def test_sigkill_half_way_then_rerun_gives_the_uninterrupted_result(cli, db, small_locomo_file, tmp_path):
    from conftest import Cli

    model = make_tiny_t5(tmp_path / "t5")
    cli("ingest", "locomo", small_locomo_file, "--name", "small")
    proc = subprocess.Popen(_xlcli(db, *ARGS, "--model", model), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ENV)
    deadline = time.monotonic() + 120
    while _count(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = generated_queries(db)
    assert 0 < len(partial) < 16 * 2 * 5, "the run was not interrupted half-way"
    pairs = {}
    for ext, lang, idx, _ in partial:
        pairs.setdefault((ext, lang), set()).add(idx)
    assert all(found == set(range(5)) for found in pairs.values())  # whole (passage, language) pairs only

    subprocess.run(_xlcli(db, *ARGS, "--model", model), check=True, capture_output=True, env=ENV, timeout=300)
    resumed = generated_queries(db)
    assert len(resumed) == len({r[:3] for r in resumed}) == 16 * 2 * 5
    assert set(partial) <= set(resumed)
    fresh = Cli(tmp_path / "fresh.db")
    fresh("ingest", "locomo", small_locomo_file, "--name", "small")
    subprocess.run(_xlcli(fresh.db, *ARGS, "--model", model), check=True, capture_output=True, env=ENV, timeout=300)
    assert generated_queries(fresh.db) == resumed


@pytest.mark.slow
def test_unreachable_hub_id_is_one_line(small_store, db):
    before = snapshot(db)
    proc = subprocess.run(_xlcli(db, "generate", "queries", "--model", "no-such-org/no-such-t5", "--langs", "es"),
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: model no-such-org/no-such-t5")
    assert snapshot(db) == before
