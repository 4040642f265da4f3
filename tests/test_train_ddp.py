"""train under DDP on CPU (gloo): torchrun runs the real CLI with 2 processes; and the ranks of a
2-process run end with identical weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sqlalchemy import text

from xlcli.store import open_store

pytestmark = pytest.mark.slow


def test_torchrun_two_cpu_processes_train_and_rank_0_writes_the_store(small_store, db, tiny_bert, tmp_path):
    script = tmp_path / "xlcli_main.py"
    script.write_text("from xlcli.cli import main\nmain()\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
        "--db", str(db), "train", "--name", "ddp", "--base", str(tiny_bert), "--pairs", "queries:en,es,de,fr,ru",
        "--typo-aware", "0.5", "--steps", "4", "--grad-accum", "2", "--save-every", "2", "--batch-size", "3",
        "--max-length", "32", "--device", "cpu", "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])  # rank 0 alone prints
    assert summary["world_size"] == 2 and summary["models"] == ["ddp", "ddp@step-2"]
    with open_store(db, write=False) as store, store.read() as conn:
        assert conn.execute(text("SELECT status FROM training_runs WHERE name = 'ddp'")).scalar_one() == "done"
        steps = [s for (s,) in conn.execute(text("SELECT step FROM training_log WHERE objective = 'total' ORDER BY step"))]
        assert steps == [1, 2, 3, 4]
        assert conn.execute(text("SELECT count(*) FROM models WHERE training_run_id IS NOT NULL")).scalar_one() == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, db: str, tiny_bert: str, out: str) -> None:
    import torch.distributed as dist

    from xlcli.store import open_store
    from xlcli.train.config import TrainConfig
    from xlcli.train.loop import Trainer
    from xlcli.train.plan import prepare
    from xlcli.train.sources import parse_pair_sources

    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    config = TrainConfig(name="spawned", base=tiny_bert, pairs=parse_pair_sources("queries:en,es,de,fr,ru"), steps=3,
                         grad_accum=2, batch_size=3, max_length=32, lr=1e-3, save_every=100, device="cpu")
    with open_store(db, write=False) as store:
        plan = prepare(store, config)
    trainer = Trainer(plan.config, plan.encoder, plan.data, Path(out) / f"run-{rank}", steps=plan.steps, dist_env=plan.dist)
    trainer.run()
    flat = torch.cat([p.detach().flatten() for p in plan.encoder.model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    if rank == 0:
        start = torch.cat([p.flatten() for p in _start_params(tiny_bert)])
        Path(out, "result.json").write_text(json.dumps({
            "ranks_equal": all(torch.equal(gathered[0], g) for g in gathered),
            "moved": float((gathered[0] - start).abs().max()),
        }))
    dist.destroy_process_group()


def _start_params(path: str):
    from transformers import AutoModel

    return [p.detach() for p in AutoModel.from_pretrained(path).parameters()]


def test_ranks_end_with_identical_weights(small_store, db, tiny_bert, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(2, _free_port(), str(db), str(tiny_bert), str(tmp_path)), nprocs=2, join=True)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["ranks_equal"] and result["moved"] > 0
