"""Does translate-test (and spelling correction) beat direct retrieval on misspelled queries?

    python bench/rewrite_quality.py [--workdir DIR] [--quick] [--locomo PATH]

A check on data, not a test (it prints whatever comes out). Every step is the real CLI:

1. the bundled fixture through ``xlcli demo`` (its held-out conversations conv-103 and conv-104,
   93 questions in each of en/es/de/fr/ru, 10 ``ielab`` one-typo variants each; the packaged
   MiniLM and ``minilm-xl``, MiniLM fine-tuned as the demo does) — the demo also stores the
   lexicon rewrite ``lex`` (fixture dictionaries read in reverse, every cascade step on);
2. ``rewrite --backend lexicon`` again with the lookup steps the backend exposes switched off:
   ``--no-lemma`` (no simplemma lemma lookup), ``--no-fuzzy`` (no typo-tolerant nearest entry),
   both; and ``rewrite --backend spell --langs en`` (same-language correction of English);
3. ``eval`` of each encoder direct and on every rewrite (``--rewrite``), R@10 within conversation;
4. with ``--locomo`` (default ../shared/data/locomo/locomo10.json when present; skipped when absent):
   the real LoCoMo test conversations, English only (no human translations there): direct vs
   ``spell``, packaged MiniLM.

Prints the tables. Resumable: run it again with the same --workdir and finished steps are skipped
(the demo's pipeline skips its steps; rewrite and eval find their stored runs).
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
XX = ("es", "de", "fr", "ru")
# name -> extra `rewrite` flags; "lex" (all steps) is the demo's own rewrite run
ABLATIONS = {"lex-nolemma": ["--no-lemma"], "lex-nofuzzy": ["--no-fuzzy"], "lex-nolemma-nofuzzy": ["--no-lemma", "--no-fuzzy"]}
ENCODERS = ("minilm", "minilm-xl")


def xlcli(db: Path, *args: str, cwd: Path | None = None) -> str:
    command = [sys.executable, "-m", "xlcli", "--db", str(db), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"xlcli {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def evaluate(db: Path, *args: str) -> dict[tuple[str, str, str], tuple[float, int]]:
    # the default measures, as the demo's eval: the demo's runs are then found by their keys, not recomputed
    out = xlcli(db, "eval", *args, "--split", "test", "--json")
    return {(r["system"], r["lang"], r["condition"]): (r["R@10"], r["queries"]) for r in json.loads(out[out.index("["):])}


def lexicons() -> list[str]:
    return [f"--lexicon={lang}={FIXTURES / 'lexicon' / f'en-{lang}.txt'}" for lang in XX]


def table(title: str, rows: list[str], langs: tuple[str, ...], results: dict) -> None:
    print(f"\n{title}")
    header = ["system"] + [f"{lang} {'clean' if c == 'clean' else 'typo'}" for lang in langs for c in ("clean", "ielab")]
    width = max(len(r) for r in rows) + 2
    print(f"{header[0]:<{width}}" + "".join(f"{h:>10}" for h in header[1:]))
    for system in rows:
        cells = [results.get((system, lang, c)) for lang in langs for c in ("clean", "ielab")]
        print(f"{system:<{width}}" + "".join(f"{100 * v[0]:>10.1f}" if v else f"{'–':>10}" for v in cells))


def fixture(work: Path, quick: bool, ablation_encoders: list[str]) -> None:
    db = work / "fixture.db"
    started = time.perf_counter()
    print("running the demo (fixture, MiniLM, fine-tuned minilm-xl, lexicon rewrite) ...", file=sys.stderr)
    xlcli(db, "demo", *(["--quick"] if quick else []), cwd=work)
    demo_s = time.perf_counter() - started
    for name, flags in ABLATIONS.items():
        xlcli(db, "rewrite", "--name", name, "--backend", "lexicon", "--to", "en", *lexicons(), "--langs", ",".join(XX),
              "--split", "test", "--variants", "all", *flags)
    xlcli(db, "rewrite", "--name", "spell", "--backend", "spell", "--langs", "en", "--split", "test", "--variants", "all")
    print("evaluating ...", file=sys.stderr)
    started = time.perf_counter()
    results = evaluate(db, "--index", ",".join(ENCODERS), "--langs", ",".join(LANGS))
    results |= evaluate(db, "--index", ",".join(ENCODERS), "--rewrite", "lex", "--langs", ",".join(XX))
    results |= evaluate(db, "--index", ",".join(ablation_encoders), "--rewrite", ",".join(ABLATIONS), "--langs", ",".join(XX))
    results |= evaluate(db, "--index", ",".join(ENCODERS), "--rewrite", "spell", "--langs", "en")
    eval_s = time.perf_counter() - started
    n = results[("minilm", "en", "clean")][1]
    print(f"\nR@10 (%) within conversation on the fixture's held-out conversations (conv-103, conv-104): {n} questions per "
          f"language; typo = ielab, one typo per query, a query's value the mean over its variants. "
          f"lex = lexicon translate-test into English with every lookup step; -nolemma / -nofuzzy switch off the lemma "
          f"(simplemma) / typo-tolerant steps. minilm-xl = MiniLM fine-tuned as the demo does"
          f"{' (--quick: 4 steps, 2 variants)' if quick else ''}.")
    rows = [s for enc in ENCODERS for s in (enc, f"{enc} ⟲ lex", *(f"{enc} ⟲ {rw}" for rw in ABLATIONS if enc in ablation_encoders))]
    table("non-English queries: direct vs translate-test", rows, XX, results)
    table("English queries: direct vs spelling correction", [s for enc in ENCODERS for s in (enc, f"{enc} ⟲ spell")], ("en",), results)
    print(f"\n(demo {demo_s:.0f} s, evaluation {eval_s:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def locomo(work: Path, path: Path) -> None:
    db = work / "locomo.db"
    print("real LoCoMo: ingest, perturb (en), index (MiniLM), spell ...", file=sys.stderr)
    xlcli(db, "ingest", "locomo", path, "--name", "locomo", "--test-conversations", "conv-44,conv-47,conv-48,conv-49,conv-50")
    xlcli(db, "perturb", "--protocol", "ielab", "--langs", "en", "--split", "test", "--seed", "1")
    xlcli(db, "index", "--name", "minilm", "--model", "default")
    xlcli(db, "rewrite", "--name", "spell", "--backend", "spell", "--langs", "en", "--split", "test", "--variants", "all")
    results = evaluate(db, "--index", "minilm,minilm@spell", "--langs", "en")
    n = results[("minilm", "en", "clean")][1]
    print(f"\nR@10 (%) within conversation on the real LoCoMo test conversations (conv-44, -47, -48, -49, -50): "
          f"{n} English questions; typo = ielab (10 one-typo variants a question).")
    table("English queries: direct vs spelling correction (packaged MiniLM)", ["minilm", "minilm ⟲ spell"], ("en",), results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="Keep the stores here (default: a temporary folder); re-run to resume.")
    parser.add_argument("--quick", action="store_true", help="The demo's reduced configuration (2 variants, 4 training steps).")
    parser.add_argument("--locomo", type=Path, default=Path(os.environ.get("LOCOMO_FILE", SHARED / "locomo" / "locomo10.json")),  # main checkout layout
                        help="The real LoCoMo file for the English spell check (skipped when absent).")
    parser.add_argument("--no-locomo", action="store_true", help="Skip the real-LoCoMo part.")
    parser.add_argument("--ablation-encoders", default=",".join(ENCODERS),
                        help="Encoders evaluated on the ablated rewrites (each costs an encoding of their texts).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        work = args.workdir or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        fixture(work, args.quick, [e for e in args.ablation_encoders.split(",") if e])
        if args.no_locomo:
            return
        if args.locomo.exists():
            locomo(work, args.locomo)
        else:
            print(f"\nreal LoCoMo part skipped: {args.locomo} not found")


if __name__ == "__main__":
    main()
