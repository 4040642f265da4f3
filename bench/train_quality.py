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

    python bench/train_quality.py --ablation [--steps 120] [--rows base,today,...] [--workdir DIR]

The ablation of issue 13, direct path (no query translation at search time), on the bundled
fixture: trained on its training conversations (conv-101/102: English questions, their human
translations, lexicon pseudo-queries), evaluated on the held-out conversations (conv-103/104),
five languages, clean and ``ielab``-misspelled. One row per recipe (see ``RECIPES``): base; today's
recipe; each new objective added to it alone; all of them. The dictionaries are the real MUSE ones
(``--muse``) when present — the fixture's own lexicons were built to cover its vocabulary — else
the fixture's. ``--locomo-recipe NAME`` also trains that recipe on the real LoCoMo (English
questions only: it has no human translations) and reports its test conversations in English.
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


def evaluate(db: Path, index: str, langs: str, variants: str | None = None) -> dict[tuple[str, str], tuple[float, int]]:
    """R@10 per (language, condition); every misspelled condition is reported as 'ielab'."""
    more = ["--variants", variants] if variants else []
    out = xlcli(db, "eval", "--index", index, "--langs", langs, "--split", "test", "--measures", "R@10", *more, "--json")
    return {(r["lang"], "clean" if r["condition"] == "clean" else "ielab"): (r["R@10"], r["queries"])
            for r in json.loads(out[out.index("["):])}


LEX_LANGS = ("es", "de", "fr", "ru")
TODAY = ("--typo-aware", "0.5", "--self-teaching")
TODAY_PAIRS = "queries:en,es,de,fr,ru,generated:es,de,fr,ru"
MIXED_PAIRS = "queries:en@1,queries:es,de,fr,ru@1,generated:es,de,fr,ru@0.2"
# name → (what it adds, --pairs, more train flags); "{lex}" stands for the --lexicon flags.
RECIPES = {
    "today": ("today's recipe (human translations + pseudo-queries by size)", TODAY_PAIRS, TODAY),
    "mix": ("+ mixing weights", MIXED_PAIRS, TODAY),
    "translate": ("+ translate-train", TODAY_PAIRS + ",translated:es,de,fr,ru", (*TODAY, "{lex}")),
    "codeswitch": ("+ code-switching 0.3", TODAY_PAIRS, (*TODAY, "{lex}", "--code-switch", "0.3")),
    "xlteach": ("+ cross-lingual self-teaching", TODAY_PAIRS, (*TODAY, "--xl-teaching", "1")),
    "multipos": ("+ multi-positive typo contrast", TODAY_PAIRS, (*TODAY, "--typo-contrast", "1")),
    "all": ("all (mixing, translate-train, code-switching, xl-teaching, multi-positive)",
            "queries:en@1,queries:es,de,fr,ru@1,translated:es,de,fr,ru@1,generated:es,de,fr,ru@0.2",
            (*TODAY, "{lex}", "--code-switch", "0.3", "--xl-teaching", "1", "--typo-contrast", "1")),
}


def recipe_flags(name: str, lexicons: list[str]) -> list[str]:
    _, pairs, flags = RECIPES[name]
    out = ["--pairs", pairs]
    for flag in flags:
        out += lexicons if flag == "{lex}" else [flag]
    return out


def lexicon_flags(muse: Path) -> list[str]:
    folder = muse if all((muse / f"en-{lang}.txt").exists() for lang in LEX_LANGS) else FIXTURES / "lexicon"
    return [f"--lexicon={lang}={folder / f'en-{lang}.txt'}" for lang in LEX_LANGS]


def prepare_fixture(db: Path, lexicons: list[str], variants: int) -> str:
    """The fixture store, ready to train on; returns the name of its misspelled variant set."""
    xlcli(db, "ingest", "locomo", FIXTURES / "locomo" / "locomo_fixture.json", "--name", "fixture",
          "--test-conversations", "conv-103,conv-104")
    xlcli(db, "ingest", "translations", FIXTURES / "locomo" / "translations.jsonl")
    variant_set = f"ielab-{variants}"
    xlcli(db, "perturb", "--protocol", "ielab", "--langs", ",".join(LANGS), "--split", "test", "--seed", "1",  # a re-run is a no-op
          "--variants", variants, "--name", variant_set)
    xlcli(db, "generate", "queries", "--backend", "lexicon", *lexicons, "--per-lang", "2", "--name", "lexicon", "--seed", "1")
    return variant_set


def run_name(name: str, args) -> str:
    """A recipe's run name, with its size (so that one --workdir holds runs of several sizes)."""
    return f"{name}-{args.steps}x{args.batch_size}"


def train_recipe(db: Path, name: str, lexicons: list[str], args) -> dict:
    command = ["train", "--name", run_name(name, args), "--base", "default", *recipe_flags(name, lexicons), "--steps", args.steps,
               "--batch-size", args.batch_size, "--max-length", args.max_length, "--seed", "1",
               "--save-every", max(1, min(50, args.steps)), "--json"]
    print(f"training: xlcli {' '.join(map(str, command))}", file=sys.stderr)
    started = time.perf_counter()
    summary = json.loads(xlcli(db, *command))
    if summary.get("nothing_to_do"):  # trained by an earlier invocation of this script: its recorded time
        summary["seconds"] = _recorded_seconds(db, run_name(name, args))
    summary.setdefault("seconds", time.perf_counter() - started)
    return summary


def _recorded_seconds(db: Path, run: str) -> float | None:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT json_extract(i.summary_json, '$.seconds') FROM training_runs t JOIN invocations i"
                           " ON i.id = t.invocation_id WHERE t.name = ?", (run,)).fetchone()
    return row[0] if row else None


def ablation(args, work: Path) -> None:
    fixture = work / "fixture.db"
    lexicons = lexicon_flags(args.muse)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    print(f"preparing the fixture store (dictionaries: {Path(lexicons[0].split('=', 2)[2]).parent}) ...", file=sys.stderr)
    variant_set = prepare_fixture(fixture, lexicons, args.eval_variants)
    results, seconds = {}, {}
    for name in rows:
        model = "default"
        if name != "base":
            summary = train_recipe(fixture, name, lexicons, args)
            seconds[name] = summary.get("seconds") or 0.0
            model = run_name(name, args)
        index = "ix-base" if name == "base" else f"ix-{model}"
        xlcli(fixture, "index", "--name", index, "--model", model)
        results[name] = evaluate(fixture, index, ",".join(LANGS), variant_set)
        print(f"  {name}: " + ", ".join(f"{l} {100 * results[name][(l, 'ielab')][0]:.1f}" for l in LANGS), file=sys.stderr)
    columns = [(l, c) for l in LANGS for c in ("clean", "ielab")]
    n = results[rows[0]][("en", "clean")][1]
    print(f"Fixture held-out conversations (conv-103/104), {n} questions per language, R@10 (%), direct path; "
          f"'typo' = ielab, one typo, mean over {args.eval_variants} variants. {args.steps} steps × {args.batch_size}, seed 1.")
    print("| recipe | " + " | ".join(f"{l} {'clean' if c == 'clean' else 'typo'}" for l, c in columns) + " | train s |")
    print("|---|" + "---:|" * (len(columns) + 1))
    for name in rows:
        label = "base (packaged MiniLM)" if name == "base" else RECIPES[name][0]
        cells = [f"{100 * results[name][k][0]:.1f}" for k in columns]
        print(f"| {label} | " + " | ".join(cells) + f" | {seconds.get(name, 0):.0f} |")
    if args.locomo_recipe:
        locomo_recipe(args, work, lexicons)


def locomo_recipe(args, work: Path, lexicons: list[str]) -> None:
    """Base vs one recipe on the real LoCoMo test conversations (English; no human translations there)."""
    if not args.locomo.exists():
        print(f"real LoCoMo skipped: {args.locomo} not found")
        return
    real, name = work / "locomo.db", args.locomo_recipe
    xlcli(real, "ingest", "locomo", args.locomo, "--name", "locomo", "--test-conversations", args.test_conversations)
    xlcli(real, "perturb", "--protocol", "ielab", "--langs", "en", "--split", "test", "--seed", "1")
    xlcli(real, "generate", "queries", "--backend", "lexicon", *lexicons, "--per-lang", "1", "--name", "muse", "--seed", "1")
    _, pairs, _ = RECIPES[name]
    # The real LoCoMo has English questions only: the human-translation sources are left out.
    flags = recipe_flags(name, lexicons)
    flags[1] = ",".join(part for part in _real_pairs(pairs))
    command = ["train", "--name", f"real-{run_name(name, args)}", "--base", "default", *flags, "--steps", args.steps, "--batch-size", args.batch_size,
               "--max-length", args.max_length, "--seed", "1", "--save-every", max(1, min(50, args.steps)), "--json"]
    print(f"training: xlcli {' '.join(map(str, command))}", file=sys.stderr)
    summary = json.loads(xlcli(real, *command))
    found = {}
    for label, model in (("base", "default"), (name, f"real-{run_name(name, args)}")):
        xlcli(real, "index", "--name", f"ix-{label}", "--model", model)
        found[label] = evaluate(real, f"ix-{label}", "en")
    print(f"Real LoCoMo test conversations ({args.test_conversations}), English R@10 (%): "
          + "; ".join(f"{label} clean {100 * v[('en', 'clean')][0]:.1f} typo {100 * v[('en', 'ielab')][0]:.1f}" for label, v in found.items())
          + f"; training {summary.get('seconds', 0):.0f} s, pairs {summary['pairs_by_source']}")


def _real_pairs(pairs: str) -> list[str]:
    """``pairs`` without the human translations (``queries:es,...``), which the real LoCoMo lacks."""
    from xlcli.train.sources import parse_pair_sources

    kept = []
    for source in parse_pair_sources(pairs):
        if source.kind == "queries":
            source = type(source)(source.kind, ("en",), source.run, source.weight)
            if any(k.startswith("queries:en") for k in kept):
                continue
        kept.append(source.spec)
    return kept


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
    parser.add_argument("--ablation", action="store_true", help="Run the issue-13 ablation on the fixture instead.")
    parser.add_argument("--rows", default="base," + ",".join(RECIPES), help="Ablation rows (base and RECIPES names).")
    parser.add_argument("--eval-variants", type=int, default=10, help="With --ablation: misspelled variants per test question.")
    parser.add_argument("--locomo-recipe", default="", help="With --ablation: also train this recipe on the real LoCoMo.")
    args = parser.parse_args()
    if args.ablation:
        with tempfile.TemporaryDirectory() as tmp_name:
            work = args.workdir or Path(tmp_name)
            work.mkdir(parents=True, exist_ok=True)
            ablation(args, work)
        return
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
