"""Speed of ``xlcli perturb`` (ielab protocol) against nlpaug's KeyboardAug, on one core.

    python bench/perturb_speed.py [--queries 10000] [--variants 10] [--fixtures DIR] [--repeat 3] [--store]

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
- with --store: ``xlcli perturb`` end to end into a temporary store (ingest not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

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


def best_of(repeat: int, fn) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
    return min(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("XLCLI_PERTURB_FIXTURES", ROOT / "fixtures" / "locomo")))
    parser.add_argument("--nlpaug-queries", type=int, default=None, help="Queries for nlpaug (default: all).")
    parser.add_argument("--store", action="store_true", help="Also time `xlcli perturb` into a temporary store.")
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

    rows = []
    t, n = best_of(args.repeat, xlcli_run)
    rows.append(("xlcli ielab", len(queries), n, t))
    t, n = best_of(args.repeat, xlcli_json)
    rows.append(("xlcli ielab + JSON", len(queries), n, t))

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

        t, n = best_of(max(1, args.repeat - 1), nlpaug_run)
        rows.append(("nlpaug KeyboardAug", len(subset), n, t))

    if args.store:
        rows.append(store_row(args, spec))

    print(f"queries: {source}; {len(queries):,} queries cycled over {', '.join(LANGS)}; {pinned}; best of {args.repeat}")
    print(f"{'tool':<26} {'queries':>9} {'variants':>10} {'seconds':>9} {'variants/s':>12} {'xlcli/tool':>11}")
    ours = rows[0][2] / rows[0][3]
    for name, nq, nv, secs in rows:
        rate = nv / secs if secs else float("nan")
        print(f"{name:<26} {nq:>9,} {nv:>10,} {secs:>9.3f} {rate:>12,.0f} {ours / rate:>10.2f}x")
    target = 50_000
    print(f"target ≥ {target:,} variants/s for xlcli ielab: {'met' if ours >= target else 'NOT met'} ({ours:,.0f}/s)")


def store_row(args, spec) -> tuple[str, int, int, float]:
    """`xlcli perturb` end to end (plan, generate, write in transactions) on the fixture store."""
    from xlcli.store import open_store

    fixture = args.fixtures / "locomo_fixture.json"
    if not fixture.exists():
        return ("xlcli perturb → store (no fixture)", 0, 0, float("nan"))
    from typer.testing import CliRunner

    from xlcli.cli import app
    from xlcli.perturb import store as S

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        runner = CliRunner()
        for argv in (["ingest", "locomo", str(fixture), "--name", "bench"],
                     ["ingest", "translations", str(args.fixtures / "translations.jsonl")]):
            result = runner.invoke(app, ["--db", str(db), *argv])
            if result.exit_code != 0:
                sys.exit(f"ingest failed: {result.output}")
        with open_store(db) as store:
            plan = S.make_plan(store, dataset=None, spec=spec, seed=args.seed, langs=list(LANGS), split=None, layout_specs={})
            start = time.perf_counter()
            result = S.run(store, plan)
            secs = time.perf_counter() - start
        return ("xlcli perturb → store", plan.query_count, result.added_variants, secs)


if __name__ == "__main__":
    main()
