"""Training throughput: `xlcli train` vs sentence-transformers' MultipleNegativesRankingLoss.

    python bench/train_speed.py [--locomo PATH] [--model default] [--steps 30] [--batch-size 32]
                                [--max-length 128] [--threads 2] [--repeats 3]

Pairs are English question → evidence-turn pairs of the real LoCoMo (../shared/data/locomo/
locomo10.json or $LOCOMO_FILE; the bundled fixture when it is absent), built by xlcli's own pair
builder; both sides get the same pairs, model, batch size, max length, temperature (τ = 0.05 ↔
MNRL scale 20), learning rate and warm-up, and the same torch thread count.

- xlcli: the training loop of `xlcli train` (in-batch InfoNCE, AdamW, warm-up/decay, clipping),
  logging every step's losses to a real store as the command does;
- reference: `SentenceTransformerTrainer` with `MultipleNegativesRankingLoss` (sentence-transformers'
  own training path; needs the `datasets` and `accelerate` packages).

Each side runs in its own subprocess (so peak memory is its own), alternately, --repeats rounds;
the table gives medians and spreads with the load (bench/timing.py). Throughput is pairs/s over
the steps after the first two (which include lazy initialisation). Target: ratio xlcli / ST ≥ 1.5.
``--precision bf16`` runs both sides in bfloat16 mixed precision (xlcli ``train --precision bf16``,
the reference's ``bf16=True``), a like-for-like pair; the default is each side's float32 on a CPU.
Also prints the ceiling of the ratio at equal arithmetic (:func:`padding_ceiling`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
FIXTURE = ROOT / "fixtures" / "locomo" / "locomo_fixture.json"
WARMUP_STEPS = 2


def build_pairs(locomo: Path, tmp: Path) -> tuple[Path, list[tuple[str, str]]]:
    """A store with the LoCoMo file (first conversation held out) and its English training pairs."""
    from xlcli.datasets import locomo as reader
    from xlcli.ingest import ingest_collection
    from xlcli.store import open_store
    from xlcli.train.pairs import build
    from xlcli.train.sources import PairSource

    data = json.loads(locomo.read_text(encoding="utf-8"))
    collection = reader.read(locomo, test_conversations=[data[0]["sample_id"]])
    db = tmp / "bench.db"
    with open_store(db) as store:
        ingest_collection(store, "bench", collection, {"bench": True}, source=str(locomo))
        with store.read() as conn:
            from sqlalchemy import text

            dataset = dict(conn.execute(text("SELECT * FROM datasets WHERE name = 'bench'")).mappings().one())
            pairs = build(conn, dataset, (PairSource("queries", ("en",)),)).pairs
    return db, [(p.query, p.positive) for p in pairs]


def padding_ceiling(order: list[tuple[str, str]], args) -> tuple[float, float, float]:
    """(ST's padding share, xlcli's, ST FLOPs / xlcli FLOPs) over the timed steps' batches: ST pads
    each batch's questions and passages to their longest; xlcli splits them into length groups
    (xlcli.train.batching). Backward costs a fixed multiple of forward, so the forward FLOPs ratio
    is the ceiling of the speed ratio at equal arithmetic, as in bench/encode_speed.py."""
    from encode_speed import forward_flops
    from transformers import AutoConfig, AutoTokenizer

    from xlcli.encoders import resolve_path
    from xlcli.train.batching import CALL_OVERHEAD, length_groups

    path = resolve_path(args.model)[1]
    tokenizer, config = AutoTokenizer.from_pretrained(path), AutoConfig.from_pretrained(path)
    timed = order[WARMUP_STEPS * args.batch_size : args.steps * args.batch_size]
    st, xl, real = [], [], 0
    for start in range(0, len(timed), args.batch_size):
        for texts in ([q for q, _ in timed[start : start + args.batch_size]], [p for _, p in timed[start : start + args.batch_size]]):
            lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]]
            real += sum(lengths)
            st.append(lengths)
            xl.extend([lengths[i] for i in group] for group in length_groups(lengths, CALL_OVERHEAD["cpu"]))
    padded = [sum(len(b) * max(b) for b in batches) for batches in (st, xl)]
    return 1 - real / padded[0], 1 - real / padded[1], forward_flops(st, config) / forward_flops(xl, config)


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def side_xlcli(args, db: Path, order: list[tuple[str, str]]) -> dict:
    from xlcli.store import open_store
    from xlcli.train import runs
    from xlcli.train.config import TrainConfig
    from xlcli.train.loop import Trainer
    from xlcli.train.plan import prepare
    from xlcli.train.sources import PairSource

    config = TrainConfig(name="speed", base=args.model, pairs=(PairSource("queries", ("en",)),), steps=args.steps,
                         batch_size=args.batch_size, max_length=args.max_length, lr=2e-5, warmup=0.1,
                         temperature=0.05, save_every=10**9, device=args.device, precision=args.precision)
    import shutil

    stamps: list[float] = []
    fresh = Path(args.tmp) / f"xlcli-{os.getpid()}.db"  # each repeat starts from the same store
    shutil.copy(db, fresh)
    with open_store(fresh) as store:
        plan = prepare(store, config)

        def on_step(log) -> None:
            runs.log_step(store, 1, log.step, log.losses, log.lr)  # the command's per-step write
            stamps.append(time.perf_counter())

        with store.write() as conn:  # a run row for the log's foreign key
            conn.exec_driver_sql("INSERT INTO invocations (step, key, params_json, state, started_at, xlcli_version)"
                                 " VALUES ('bench', 'k', '{}', 'done', 'now', 'bench')")
            conn.exec_driver_sql("INSERT INTO training_runs (id, name, base_model, config_json, key, status, output_dir, invocation_id)"
                                 " VALUES (1, 'speed', 'm', '{}', 'k', 'running', '-', 1)")
        trainer = Trainer(plan.config, plan.encoder, plan.data, Path(args.tmp) / "xlcli-run", steps=plan.steps, on_step=on_step,
                          batch_size=plan.batch_size)
        trainer._save = lambda *a, **k: None  # checkpoints are not what is measured
        trainer.run()
    return {"seconds": stamps[-1] - stamps[WARMUP_STEPS - 1], "pairs": (len(stamps) - WARMUP_STEPS) * args.batch_size}


def side_st(args, db: Path, order: list[tuple[str, str]]) -> dict:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses
    from transformers import TrainerCallback

    from xlcli.encoders import resolve_path

    stamps: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, *_, **__):
            stamps.append(time.perf_counter())

    model = SentenceTransformer(resolve_path(args.model)[1], device="cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu")
    model.max_seq_length = args.max_length
    n = args.steps * args.batch_size
    data = Dataset.from_dict({"anchor": [q for q, _ in order[:n]], "positive": [p for _, p in order[:n]]})
    training = SentenceTransformerTrainingArguments(
        output_dir=str(Path(args.tmp) / "st-run"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_ratio=0.1, save_strategy="no", report_to=[], seed=0, dataloader_drop_last=True,
        disable_tqdm=True, logging_strategy="no", use_cpu=args.device == "cpu" or not torch.cuda.is_available(),
        bf16=args.precision == "bf16" or (args.precision == "auto" and torch.cuda.is_available() and args.device != "cpu"),
    )
    trainer = SentenceTransformerTrainer(model=model, args=training, train_dataset=data,
                                         loss=losses.MultipleNegativesRankingLoss(model, scale=20.0), callbacks=[Timer()])
    trainer.train()
    return {"seconds": stamps[-1] - stamps[WARMUP_STEPS - 1], "pairs": (len(stamps) - WARMUP_STEPS) * args.batch_size}


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    db = Path(args.db)
    order = json.loads(Path(args.order).read_text(encoding="utf-8"))
    result = (side_xlcli if args.side == "xlcli" else side_st)(args, db, order)
    result["peak_mb"] = peak_memory_mb()
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", DEFAULT)))
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="both sides: bf16 = xlcli's --precision bf16 and the reference's bf16=True (autocast)")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--order", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args)
        return
    try:
        import datasets  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        print(f"skipped: the reference needs sentence-transformers and datasets ({exc})")
        return
    locomo = args.locomo if args.locomo.is_file() else FIXTURE
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db, pairs = build_pairs(locomo, tmp)
        # The reference gets the pairs in xlcli's own order, so both see the same texts.
        from xlcli.train.sampler import Stream

        stream = Stream(["queries:en"] * len(pairs), seed=0, salt=1)
        order = [pairs[i] for b in range(args.steps) for i in stream.batch(b, args.batch_size)]
        (tmp / "order.json").write_text(json.dumps(order), encoding="utf-8")
        runs: dict[str, list[dict]] = {"xlcli": [], "st": []}
        for _ in range(args.repeats):
            for side in ("xlcli", "st"):
                command = [sys.executable, __file__, "--side", side, "--db", str(db), "--order", str(tmp / "order.json"),
                           "--tmp", str(tmp), "--model", args.model, "--steps", str(args.steps), "--batch-size",
                           str(args.batch_size), "--max-length", str(args.max_length), "--threads", str(args.threads),
                           "--device", args.device, "--precision", args.precision]
                done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
                line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
                if done.returncode != 0 or not line:
                    sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
                result = json.loads(line[0][7:])
                result["rate"] = result["pairs"] / result["seconds"]
                runs[side].append(result)
    print(f"Training throughput — {locomo.name}: {len(pairs):,} English question→evidence pairs; model {args.model}; "
          f"batch {args.batch_size}, max length {args.max_length}, {args.steps} steps (first {WARMUP_STEPS} not timed), "
          f"{args.threads} threads, precision {args.precision} on both sides, {args.repeats} alternating rounds, medians; {load()}")
    print(f"{'':<34}{'pairs/s (min-max)':>24}{'peak MB':>10}")
    rate = {}
    for side, label in (("xlcli", "xlcli train (InfoNCE)"), ("st", "sentence-transformers MNRL")):
        rates = [r["rate"] for r in runs[side]]
        rate[side] = statistics.median(rates)
        peak = statistics.median(r["peak_mb"] for r in runs[side])
        print(f"{label:<34}{f'{rate[side]:.1f} ({min(rates):.1f}-{max(rates):.1f})':>24}{peak:>10.0f}")
    print(f"ratio xlcli / sentence-transformers (medians): {rate['xlcli'] / rate['st']:.2f} (target ≥ 1.5); {load()}")
    st_pad, xl_pad, ceiling = padding_ceiling(order, args)
    print(f"ceiling at equal arithmetic: {ceiling:.2f} (padding: ST {st_pad:.1%} of its tokens, xlcli {xl_pad:.1%})")


if __name__ == "__main__":
    main()
