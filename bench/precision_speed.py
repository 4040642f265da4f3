"""One MiniLM forward pass on the CPU in each precision of `index --precision` (the Encoder's own path).

    python bench/precision_speed.py [--threads 1] [--repeats 5] [--batch 64] [--tokens 32]

A batch of random token ids (no padding) through :meth:`xlcli.encoders.Encoder.embed` with the
packaged all-MiniLM-L6-v2, for fp32, bf16 and fp16 — the last two under ``torch.autocast`` as the
encoder runs them, whether or not the registry would refuse them on this CPU (the point is to see
why it does). The sides alternate, --repeats rounds; the table gives medians and spreads
(bench/timing.py), the speed-up over fp32, the largest difference from fp32's vectors, and what
oneDNN says this CPU supports natively.
"""

from __future__ import annotations

import argparse
import sys

from timing import alternate, load, median, spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()

    import torch

    from xlcli.encoders import PRECISIONS, Encoder, EncoderConfig, default_model_path, load_tokenizer_and_model, precision_missing

    torch.set_num_threads(args.threads)
    tokenizer, model = load_tokenizer_and_model(str(default_model_path()), source="package")
    encoders = {}
    for name in PRECISIONS:
        encoder = Encoder(EncoderConfig(str(default_model_path())), device="cpu", model=model, tokenizer=tokenizer)
        if name != "fp32":  # bypass the registry's refusal: measure what it refuses
            encoder._autocast = getattr(torch, PRECISIONS[name].dtype)
        encoders[name] = encoder
    generator = torch.Generator().manual_seed(0)
    batch = {"input_ids": torch.randint(1000, 20000, (args.batch, args.tokens), generator=generator),
             "attention_mask": torch.ones(args.batch, args.tokens, dtype=torch.long),
             "token_type_ids": torch.zeros(args.batch, args.tokens, dtype=torch.long)}

    def forward(encoder):
        with torch.inference_mode():
            return encoder.embed(batch)

    for encoder in encoders.values():
        forward(encoder)  # warm-up: oneDNN builds its kernels on the first call
    times, results = alternate(args.repeats, [lambda e=e: forward(e) for e in encoders.values()])
    print(f"{args.batch} x {args.tokens} tokens, {args.threads} torch threads, {args.repeats} alternating rounds; {load()}")
    print(f"{'precision':<11}{'seconds (min-max)':>26}{'speed-up':>10}{'max |v - fp32|':>16}  native here")
    reference = median(times[0])
    for name, took, vectors in zip(encoders, times, results):
        missing = precision_missing(name, "cpu")
        diff = float((vectors - results[0]).abs().max())
        print(f"{name:<11}{spread(took):>26}{reference / median(took):>9.2f}x{diff:>16.2e}  {'yes' if missing is None else 'no'}")
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
