"""Encoding speed: `xlcli index` vs sentence-transformers `encode`, same model, passages, batch size, threads.

    python bench/encode_speed.py [--locomo PATH] [-n 0] [--batch-size 64] [--threads 2] [--repeats 3] [--precision fp32]

Passages are the real LoCoMo turns (../shared/data/locomo/locomo10.json or $LOCOMO_FILE), else the
bundled fixture: all of them unless -n cuts the file to about n turns (whole sessions). The xlcli
side is the whole `index` step with the model already loaded: token-count-sorted batches, encoding,
and one SQLite transaction per batch writing vec0 rows, the vector block and bookkeeping. The
reference is `SentenceTransformer.encode` (which sorts by character length) on the same texts. Both
run in this process with the same torch thread count, alternately, --repeats rounds; the table gives
medians and spreads with the load (bench/timing.py). Target: ratio (xlcli / ST) ≥ 1.25. Also prints
the largest difference between the two sets of vectors, and the ceiling of the ratio at equal
arithmetic: both sides run the same float32 forward pass, which on a CPU is compute-bound, so
xlcli can only be faster by the work sentence-transformers spends on padding. The ceiling is the
ratio of the two sides' transformer FLOPs over their actual batches (:func:`forward_flops`).

``--precision bf16`` builds the xlcli side with ``index --precision bf16`` and adds a third side,
sentence-transformers under the same ``torch.autocast("cpu", dtype=torch.bfloat16)``, so the table
has both the ratio against the fp32 reference and the like-for-like one; the vector differences are
then against ST in fp32 (the largest component difference and the lowest cosine per passage).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from timing import load, median, spread

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
FIXTURE = ROOT / "fixtures" / "locomo" / "locomo_fixture.json"


def passages_file(path: Path, n: int, tmp: Path) -> Path:
    """A LoCoMo file cut to about ``n`` turns (whole sessions), so both sides see the same texts."""
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    kept, count = [], 0
    for sample in data:
        conv = {k: v for k, v in sample["conversation"].items() if not k.startswith("session_")}
        conv.update({k: v for k, v in sample["conversation"].items() if k.startswith("speaker")})
        sessions = sorted(
            (k for k, v in sample["conversation"].items() if k.startswith("session_") and isinstance(v, list)),
            key=lambda k: int(k.split("_")[1]),
        )
        for key in sessions:
            if count >= n:
                break
            conv[key] = sample["conversation"][key]
            conv[f"{key}_date_time"] = sample["conversation"].get(f"{key}_date_time", "")
            count += len(conv[key])
        if len(conv) > 2:
            kept.append({"sample_id": sample["sample_id"], "conversation": conv, "qa": []})
        if count >= n:
            break
    out = tmp / "passages.json"
    out.write_text(json.dumps(kept), encoding="utf-8")
    return out


def forward_flops(batches: list[list[int]], config) -> float:
    """FLOPs of a BERT-style encoder over padded batches (lists of token lengths): per layer and
    token the four attention projections and the two feed-forward matrices (2·(4H² + 2HF)), plus
    the two attention products per token pair (2·2·L·H). Embeddings, norms and pooling are noise."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for lengths in batches:
        padded = max(lengths)
        total += len(lengths) * padded * (2 * (4 * h * h + 2 * h * f) + 4 * padded * h)
    return layers * total


def padding_ceiling(texts: list[str], tokenizer, config, batch_size: int, max_length: int) -> tuple[float, float, float]:
    """(ST's padding share, xlcli's padding share, ST FLOPs / xlcli FLOPs) for these texts."""
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    st_order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # SentenceTransformer.encode's order
    xl_order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # xlcli.index.plan_batches' order
    shares, flops = [], []
    for order in (st_order, xl_order):
        batches = [[lengths[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]
        padded = sum(len(b) * max(b) for b in batches)
        shares.append(1 - sum(lengths) / padded)
        flops.append(forward_flops(batches, config))
    return shares[0], shares[1], flops[0] / flops[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", DEFAULT)))
    parser.add_argument("-n", type=int, default=0, help="about this many passages (whole sessions); 0 = the whole file")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="the xlcli side's --precision")
    args = parser.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from sqlalchemy import text

    from xlcli.datasets import locomo
    from xlcli.encoders import default_model_path
    from xlcli.index import build
    from xlcli.ingest import ingest_collection
    from xlcli.models import resolve_model
    from xlcli.store import open_store, vectors

    torch.set_num_threads(args.threads)
    source = args.locomo if args.locomo.exists() else FIXTURE
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cut = passages_file(source, args.n, tmp) if args.n else source
        collection = locomo.read(cut)
        texts = [p.text for p in collection.passages]
        print(f"{len(texts):,} passages from {source.name}, batch size {args.batch_size}, {args.threads} torch threads, "
              f"{args.repeats} alternating rounds, xlcli in {args.precision}; {load()}", flush=True)

        # Load both models once, outside the timings; the xlcli encoder is handed to the index step.
        _, settings = resolve_model(open_store(tmp / "probe.db"), "default")
        encoder = settings.load("cpu", args.precision)
        st_model = SentenceTransformer(str(default_model_path()), device="cpu")
        st_model.max_seq_length = settings.max_length

        def st_autocast():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return st_model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)

        xlcli_times, st_times, st_auto_times = [], [], []
        for repeat in range(args.repeats):
            db = tmp / f"run{repeat}.db"
            with open_store(db) as store:
                ingest_collection(store, "bench", collection, {"file": str(cut)}, source=str(cut))
                start = time.perf_counter()
                build(store, "minilm", model="default", batch_size=args.batch_size, device="cpu", show_progress=False,
                      encoder=encoder, precision=args.precision)
                xlcli_times.append(time.perf_counter() - start)
                with store.read() as conn:
                    row = conn.execute(text("SELECT vec_table, dim FROM indexes")).one()
                    ids = dict(conn.execute(text("SELECT ext_id, id FROM passages")).all())
                    data = vectors.read_all(conn, row.vec_table, row.dim)
            start = time.perf_counter()
            st_vecs = st_model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
            st_times.append(time.perf_counter() - start)
            also = ""
            if args.precision == "bf16":
                start = time.perf_counter()
                st_autocast()
                st_auto_times.append(time.perf_counter() - start)
                also = f", ST under bf16 autocast {st_auto_times[-1]:.1f} s"
            print(f"round {repeat + 1}: xlcli {xlcli_times[-1]:.1f} s, sentence-transformers {st_times[-1]:.1f} s{also}; {load()}",
                  flush=True)

        ours = dict(zip(data.passage_ids.tolist(), data.matrix))
        pairs = [(ours[ids[p.ext_id]], v) for p, v in zip(collection.passages, st_vecs)]
        diff = max(float(np.abs(a - b).max()) for a, b in pairs)
        lowest_cos = min(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in pairs)

    x = len(texts) / median(xlcli_times)
    s = len(texts) / median(st_times)
    print(f"{'':<36}{'passages/s':>12}{'seconds (min-max)':>28}")
    print(f"{'xlcli index (encode + store write)':<36}{x:>12.1f}{spread(xlcli_times):>28}")
    print(f"{'sentence-transformers encode':<36}{s:>12.1f}{spread(st_times):>28}")
    if st_auto_times:
        a = len(texts) / median(st_auto_times)
        print(f"{'ST encode under bf16 autocast':<36}{a:>12.1f}{spread(st_auto_times):>28}")
    print(f"{'ratio xlcli / ST (medians)':<36}{x / s:>12.2f}   (target >= 1.25)")
    if st_auto_times:
        print(f"{'ratio xlcli / ST bf16 autocast':<36}{x / a:>12.2f}   (same arithmetic on both sides)")
    # Each round's two runs are next to each other in time, so their ratio sees the least drift.
    paired = sorted(t_st / t_x for t_x, t_st in zip(xlcli_times, st_times))
    print(f"{'ratio per round (median, min-max)':<36}{median(paired):>12.2f}   ({paired[0]:.2f}-{paired[-1]:.2f})")
    st_pad, xl_pad, ceiling = padding_ceiling(texts, encoder.tokenizer, encoder.model.config, args.batch_size, settings.max_length)
    print(f"{'ceiling at equal arithmetic':<36}{ceiling:>12.2f}   (padding: ST {st_pad:.1%} of its tokens, xlcli {xl_pad:.1%})")
    print(load())
    print(f"max |xlcli - ST| over all vector components: {diff:.2e}; lowest cosine between a passage's two vectors: {lowest_cos:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
