"""Does `xlcli train` help non-English, misspelled queries without losing cross-lingual ability?

    python bench/train_quality.py [--locomo PATH] [--muse DIR] [--tatoeba DIR] [--align] [--align-pairs]
                                  [--steps 300] [--batch-size 32] [--per-lang 1] [--workdir DIR]

A check on real data, not a test (it prints whatever comes out). Every step is the real CLI:

1. the real LoCoMo (../shared/data/locomo/locomo10.json or $LOCOMO_FILE), split 5/5 by conversation
   (``--test-conversations``, default the last five);
2. ``generate queries --backend lexicon`` with the real MUSE dictionaries (../shared/data/muse/,
   en→es/de/fr/ru): cross-lingual pseudo-queries for every turn — the training conversations' ones
   become pairs, the leakage guard keeps the test conversations' out;
3. ``train`` the default MiniLM on the training conversations' English questions plus those
   pseudo-queries, typo-aware + self-teaching (``--align``: plus the alignment objective on
   Tatoeba, ../shared/data/tatoeba/; ``--align-pairs``: plus alignment of each batch's
   pseudo-queries to the frozen start's embedding of their English terms);
4. evaluation, before (packaged MiniLM) and after (the trained model), R@10 within conversation:
   on the test conversations of the real LoCoMo, English clean and ``ielab``-misspelled; on the
   bundled fixture's held-out conversations (conv-103, conv-104), all five languages, clean and
   misspelled.

Prints the table and the training time. Skips cleanly when the data files are absent. Every step
is resumable: run it again with the same --workdir after an interruption and it continues.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "fixtures"
LANGS = ("en", "es", "de", "fr", "ru")
TATOEBA = {"es": "spa", "de": "deu", "fr": "fra", "ru": "rus"}


def xlcli(db: Path, *args: str, capture: bool = False) -> str:
    command = [sys.executable, "-m", "xlcli", "--db", str(db), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"xlcli {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def evaluate(db: Path, index: str, langs: str) -> dict[tuple[str, str], tuple[float, int]]:
    out = xlcli(db, "eval", "--index", index, "--langs", langs, "--split", "test", "--measures", "R@10", "--json")
    return {(r["lang"], r["condition"]): (r["R@10"], r["queries"]) for r in json.loads(out[out.index("["):])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", SHARED / "locomo" / "locomo10.json")))
    parser.add_argument("--muse", type=Path, default=SHARED / "muse")
    parser.add_argument("--tatoeba", type=Path, default=SHARED / "tatoeba")
    parser.add_argument("--align", action="store_true", help="Add the Tatoeba alignment objective.")
    parser.add_argument("--align-pairs", action="store_true", help="Add `train --align-pairs` (alignment on the batch's pseudo-queries).")
    parser.add_argument("--test-conversations", default="conv-44,conv-47,conv-48,conv-49,conv-50")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--per-lang", type=int, default=1, help="Lexicon pseudo-queries per turn and language.")
    parser.add_argument("--extra", default="", help="More `xlcli train` flags, e.g. --extra='--lr 3e-5'.")
    parser.add_argument("--workdir", type=Path, help="Keep the stores and models here (default: a temporary folder).")
    args = parser.parse_args()
    missing = [p for p in (args.locomo, args.muse) if not p.exists()] + ([args.tatoeba] if args.align and not args.tatoeba.exists() else [])
    if missing:
        print(f"skipped: {', '.join(map(str, missing))} not found")
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        work = args.workdir or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        run(args, work)


def run(args, work: Path) -> None:
    real, fixture = work / "locomo.db", work / "fixture.db"
    name = "minilm-xl" + ("-tatoeba" if args.align else "") + ("-pairs" if args.align_pairs else "")
    lexicons = [f"--lexicon={lang}={args.muse / f'en-{lang}.txt'}" for lang in ("es", "de", "fr", "ru")]
    print("preparing the real LoCoMo store ...", file=sys.stderr)
    xlcli(real, "ingest", "locomo", args.locomo, "--name", "locomo", "--test-conversations", args.test_conversations)
    xlcli(real, "perturb", "--protocol", "ielab", "--langs", "en", "--split", "test", "--seed", "1")
    xlcli(real, "generate", "queries", "--backend", "lexicon", *lexicons, "--per-lang", args.per_lang, "--name", "muse", "--seed", "1")
    train = ["train", "--name", name, "--base", "default", "--pairs", "queries:en,generated:es,de,fr,ru", "--typo-aware", "0.5",
             "--self-teaching", "--steps", args.steps, "--batch-size", args.batch_size, "--max-length", args.max_length, "--seed", "1",
             "--save-every", max(1, min(50, args.steps)),  # so that a re-run with the same --workdir resumes
             *(["--align-pairs"] if args.align_pairs else []), *args.extra.split()]
    if args.align:
        for lang, code in TATOEBA.items():
            xlcli(real, "ingest", "parallel", args.tatoeba / f"tatoeba.{code}-eng.{code}", args.tatoeba / f"tatoeba.{code}-eng.eng",
                  "--lang", lang, "--name", f"tatoeba-{lang}")
        train += ["--parallel", ",".join(f"tatoeba-{lang}" for lang in TATOEBA)]
    print(f"training: xlcli {' '.join(map(str, train))}", file=sys.stderr)
    started = time.perf_counter()
    summary = json.loads(xlcli(real, *train, "--json"))
    wall = time.perf_counter() - started
    model_dir = Path(summary["output_dir"]) / f"step-{summary['steps']}"

    print("evaluating on the real LoCoMo test conversations ...", file=sys.stderr)
    results: dict[str, dict] = {"before": {}, "after": {}}
    for label, model in (("before", "default"), ("after", name)):
        xlcli(real, "index", "--name", label, "--model", model)
        results[label]["locomo"] = evaluate(real, label, "en")

    print("evaluating on the fixture's held-out conversations ...", file=sys.stderr)
    xlcli(fixture, "ingest", "locomo", FIXTURES / "locomo" / "locomo_fixture.json", "--name", "fixture",
          "--test-conversations", "conv-103,conv-104")
    xlcli(fixture, "ingest", "translations", FIXTURES / "locomo" / "translations.jsonl")
    xlcli(fixture, "perturb", "--protocol", "ielab", "--langs", ",".join(LANGS), "--split", "test", "--seed", "1")
    for label, model in (("before", "default"), ("after", str(model_dir))):
        xlcli(fixture, "index", "--name", label, "--model", model)
        results[label]["fixture"] = evaluate(fixture, label, ",".join(LANGS))

    columns = [("locomo", "en", "clean"), ("locomo", "en", "ielab")] + [("fixture", l, c) for l in LANGS for c in ("clean", "ielab")]
    n_locomo = results["before"]["locomo"][("en", "clean")][1]
    n_fixture = results["before"]["fixture"][("en", "clean")][1]
    print(f"R@10 (%) within conversation. LoCoMo: {n_locomo} test questions ({args.test_conversations}); "
          f"fixture: {n_fixture} held-out questions per language. 'ielab' = one typo per query, mean over 10 variants.")
    header = ["model"] + [f"{'LoCoMo' if d == 'locomo' else 'fx'} {l} {'clean' if c == 'clean' else 'typo'}" for d, l, c in columns]
    print(" | ".join(f"{h:>15}" if i else f"{h:<12}" for i, h in enumerate(header)))
    for label in ("before", "after"):
        cells = [f"{100 * results[label][d][(l, c)][0]:>15.1f}" for d, l, c in columns]
        print(" | ".join([f"{label:<12}", *cells]))
    deltas = [f"{100 * (results['after'][d][(l, c)][0] - results['before'][d][(l, c)][0]):>+15.1f}" for d, l, c in columns]
    print(" | ".join([f"{'Δ':<12}", *deltas]))
    print(f"training: {summary['pairs']:,} pairs ({', '.join(f'{k} {v:,}' for k, v in summary['pairs_by_source'].items())}), "
          f"{summary['steps']} steps × batch {args.batch_size}, {summary.get('seconds', wall):.0f} s of training "
          f"({wall:.0f} s for the whole command) on {summary['device']}; leakage guard left out "
          f"{sum(summary['leaks'].values()):,} pairs of the test conversations")


if __name__ == "__main__":
    main()
