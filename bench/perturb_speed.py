"""Speed of ``xlcli perturb`` (ielab protocol) against nlpaug's KeyboardAug, on one core.

    python bench/perturb_speed.py [--queries 10000] [--variants 10] [--fixtures DIR] [--repeat 3] [--no-store]

Queries: the bundled LoCoMo fixture's English questions and their es/de/fr/ru translations
(fixtures/locomo/locomo_fixture.json, translations.jsonl; or --fixtures / $XLCLI_PERTURB_FIXTURES),
cycled to ``--queries`` queries spread evenly over the five languages; a built-in list when the
fixture is absent. The process is pinned to one CPU where the OS allows it.

Rows:
- xlcli ielab: variants with their operations and rapidfuzz Levenshtein/OSA distances (the
  objects the store writer serialises) — the ≥ 50,000 variants/s target;
- xlcli ielab + JSON: the same plus the JSON of the operations, as stored;
- nlpaug KeyboardAug: one keyboard typo in one word per variant (aug_word_max=1,
  aug_char_max=1), ``augment(text, n=variants)``; nlpaug has no Russian layout, so Russian
  queries use its Ukrainian ЙЦУКЕН model (the same key positions for the shared letters);
- xlcli perturb → store: ``xlcli perturb`` end to end (plan, generate, write) into a fresh copy of
  an ingested fixture store per round (ingest not timed); --no-store leaves it out.

Every side runs --repeat rounds, alternating (bench/timing.py); rates use the medians, and the
last column is each tool's rate against nlpaug's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from timing import alternate, load, median, spread

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "es", "de", "fr", "ru")
BUILTIN = {
    "en": ["When did Melanie paint a sunrise?", "What instrument is Jolene learning?", "Where did Tomás work before opening his food truck?"],
    "es": ["¿Cuándo pintó Melanie un amanecer?", "¿Qué instrumento está aprendiendo Jolene?", "¿Dónde trabajaba Tomás antes de abrir su food truck?"],
    "de": ["Wann hat Melanie einen Sonnenaufgang gemalt?", "Welches Instrument lernt Jolene?", "Wo arbeitete Tomás, bevor er seinen Foodtruck eröffnete?"],
    "fr": ["Quand Melanie a-t-elle peint un lever de soleil ?", "Quel instrument Jolene apprend-elle ?", "Où Tomás travaillait-il avant d'ouvrir son food truck ?"],
    "ru": ["Когда Мелани нарисовала рассвет?", "На каком инструменте учится играть Джолин?", "Где работал Томас до того, как открыл фудтрак?"],
}
NLPAUG_LANG = {"en": "en", "es": "es", "de": "de", "fr": "fr", "ru": "uk"}


def load_queries(fixtures: Path) -> tuple[dict[str, list[str]], str]:
    locomo, translations = fixtures / "locomo_fixture.json", fixtures / "translations.jsonl"
    if not translations.exists():
        return BUILTIN, "built-in list (fixture not found)"
    by_lang: dict[str, list[str]] = {lang: [] for lang in LANGS}
    for line in translations.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("lang") in by_lang:
                by_lang[row["lang"]].append(row["text"])
    if locomo.exists():
        for sample in json.loads(locomo.read_text(encoding="utf-8")):
            by_lang["en"].extend(qa["question"] for qa in sample.get("qa", []) if qa.get("question"))
    for lang in LANGS:
        if not by_lang[lang]:
            by_lang[lang] = BUILTIN[lang]
    return by_lang, f"{fixtures} ({', '.join(f'{k} {len(v)}' for k, v in by_lang.items())})"


def cycle(by_lang: dict[str, list[str]], n: int) -> list[tuple[str, str]]:
    return [(LANGS[i % len(LANGS)], by_lang[LANGS[i % len(LANGS)]][(i // len(LANGS)) % len(by_lang[LANGS[i % len(LANGS)]])])
            for i in range(n)]


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("XLCLI_PERTURB_FIXTURES", ROOT / "fixtures" / "locomo")))
    parser.add_argument("--nlpaug-queries", type=int, default=None, help="Queries for nlpaug (default: all).")
    parser.add_argument("--no-store", dest="store", action="store_false", help="Leave out `xlcli perturb` into a store.")
    args = parser.parse_args()

    from xlcli.perturb import tables
    from xlcli.perturb.protocols import Spec, perturb

    pinned = pin_one_core()
    by_lang, source = load_queries(args.fixtures)
    queries = cycle(by_lang, args.queries)
    spec = Spec.make("ielab", variants=args.variants)
    lang_tables = {lang: tables.get(lang) for lang in LANGS}

    def xlcli_run() -> int:
        n = 0
        for lang, text in queries:
            n += len(perturb(text, lang_tables[lang], spec, args.seed).variants)
        return n

    def xlcli_json() -> int:
        n = 0
        for lang, text in queries:
            for v in perturb(text, lang_tables[lang], spec, args.seed).variants:
                json.dumps([o.as_dict() for o in v.ops], ensure_ascii=False, separators=(",", ":"))
                n += 1
        return n

    sides = [("xlcli ielab", len(queries), xlcli_run), ("xlcli ielab + JSON", len(queries), xlcli_json)]
    try:
        import nlpaug.augmenter.char as nac
    except ImportError:  # pragma: no cover
        nac = None
    if nac is not None:
        augs = {lang: nac.KeyboardAug(lang=NLPAUG_LANG[lang], aug_word_min=1, aug_word_max=1, aug_char_min=1, aug_char_max=1,
                                      include_special_char=False, include_numeric=False) for lang in LANGS}
        subset = queries[: args.nlpaug_queries] if args.nlpaug_queries else queries

        def nlpaug_run() -> int:
            import random

            import numpy as np
            random.seed(args.seed)
            np.random.seed(args.seed)
            n = 0
            for lang, text in subset:
                n += len(augs[lang].augment(text, n=args.variants))
            return n

        sides.append(("nlpaug KeyboardAug", len(subset), nlpaug_run))
    with tempfile.TemporaryDirectory() as tmp:
        if args.store:
            sides.append(store_side(args, spec, Path(tmp)))
        times, counts = alternate(args.repeat, [fn for _, _, fn in sides])

    print(f"queries: {source}; {len(queries):,} queries cycled over {', '.join(LANGS)}; {pinned}; "
          f"{args.repeat} alternating rounds, medians; {load()}")
    print(f"{'tool':<26} {'queries':>9} {'variants':>10} {'seconds (min-max)':>24} {'variants/s':>12} {'vs nlpaug':>10}")
    rates = [n / median(t) for (_, _, _), n, t in zip(sides, counts, times)]
    reference = rates[2] if nac is not None else float("nan")
    for (name, nq, _), n, t, rate in zip(sides, counts, times, rates):
        print(f"{name:<26} {nq:>9,} {n:>10,} {spread(t):>24} {rate:>12,.0f} {rate / reference:>9.2f}x")
    target = 50_000
    print(f"target ≥ {target:,} variants/s for xlcli ielab: {'met' if rates[0] >= target else 'NOT met'} ({rates[0]:,.0f}/s); {load()}")


def store_side(args, spec, tmp: Path):
    """`xlcli perturb` end to end (plan, generate, write in transactions), each round on a fresh copy
    of the ingested fixture store: (name, queries, run) for :func:`timing.alternate`."""
    import shutil

    from typer.testing import CliRunner

    from xlcli.cli import app
    from xlcli.perturb import store as S
    from xlcli.store import open_store

    fixture = args.fixtures / "locomo_fixture.json"
    if not fixture.exists():
        sys.exit(f"no fixture at {fixture}: pass --fixtures DIR or --no-store")
    ingested = tmp / "ingested.db"
    runner = CliRunner()
    for argv in (["ingest", "locomo", str(fixture), "--name", "bench"],
                 ["ingest", "translations", str(args.fixtures / "translations.jsonl")]):
        result = runner.invoke(app, ["--db", str(ingested), *argv])
        if result.exit_code != 0:
            sys.exit(f"ingest failed: {result.output}")
    copies = []
    for i in range(args.repeat):
        copies.append(tmp / f"run{i}.db")
        shutil.copy(ingested, copies[-1])
    with open_store(ingested) as store:
        queries = S.make_plan(store, dataset=None, spec=spec, seed=args.seed, langs=list(LANGS), split=None, layout_specs={}).query_count

    def run() -> int:
        with open_store(copies.pop()) as store:
            plan = S.make_plan(store, dataset=None, spec=spec, seed=args.seed, langs=list(LANGS), split=None, layout_specs={})
            return S.run(store, plan).added_variants

    return ("xlcli perturb → store", queries, run)


if __name__ == "__main__":
    main()
