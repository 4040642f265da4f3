"""Speed of ``xlcli rewrite --backend lexicon`` on misspelled queries, with the full MUSE dictionaries, on one core.

    python bench/rewrite_speed.py [--queries 10000] [--repeat 3] [--scan-texts 1500] [--data ../shared/data]

Queries (es, de, fr, ru, evenly): the Tatoeba test sentences (1,000 real translations per language,
data/tatoeba) and, to reach ``--queries``, the real LoCoMo questions (data/locomo/locomo10.json)
translated word by word with MUSE en-xx (first translation; names and numbers kept). They are
ingested as translations of their English source (``ingest beir`` + ``ingest translations``) and
perturbed with ``xlcli perturb --protocol ielab`` (10 variants a query) — ingest and perturb not timed.
The dictionaries are data/muse/en-{es,de,fr,ru}.txt, read in reverse, as a user would pass them.

Rows (medians of ``--repeat`` runs, systems alternating within each repeat, each on a fresh copy
of the store, process pinned to one CPU):

- xlcli rewrite: ``runner.plan`` (read and check the four dictionaries, the corpus' names) then
  ``runner.run`` (rewrite + write every batch, summary; the typo-tolerant indexes are built on first
  need, inside the run) — texts/s of the run, and of plan + run;
- xlcli, steady state: the same plan run again on a fresh store copy with its indexes built and its
  per-word caches emptied — the cost per text once the one-off setup is paid;
- the same cascade with its typo-tolerant step replaced by a naive ``rapidfuzz.process.extractOne``
  over the dictionary's vocabulary (normalised Levenshtein ≥ 0.75, the prototype's threshold), on
  the first ``--scan-texts`` texts only (it is three orders of magnitude slower);
- per-lookup cost of misspelled words the dictionary lacks: xlcli's FuzzyIndex, symspellpy's own
  ``lookup`` (max distance 2, CLOSEST), rapidfuzz extractOne over the vocabulary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LANGS = ("es", "de", "fr", "ru")
TATOEBA = {"es": "spa", "de": "deu", "fr": "fra", "ru": "rus"}


def build_queries(data: Path, n: int) -> list[tuple[str, str, str]]:
    """(english, lang, text) for n queries spread evenly over LANGS."""
    from xlcli.generate.lexicon import read_muse

    per_lang = n // len(LANGS)
    found: list[tuple[str, str, str]] = []
    questions = [qa["question"] for c in json.loads((data / "locomo" / "locomo10.json").read_text()) for qa in c["qa"]
                 if qa.get("question")]
    token = re.compile(r"[^\W\d_]+|\d+|[^\w\s]", re.UNICODE)
    for lang in LANGS:
        code = TATOEBA[lang]
        xx = (data / "tatoeba" / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8").splitlines()
        en = (data / "tatoeba" / f"tatoeba.{code}-eng.eng").read_text(encoding="utf-8").splitlines()
        rows = [(e, lang, x) for e, x in zip(en, xx) if e.strip() and x.strip()][:per_lang]
        muse = read_muse(data / "muse" / f"en-{lang}.txt").entries
        for q in questions:
            if len(rows) >= per_lang:
                break
            words = []
            for t in token.findall(q):
                keep = not t[0].isalpha() or (t[0].isupper() and words)
                words.append(t if keep else muse.get(t.lower(), [t])[0])
            rows.append((q, lang, " ".join(words)))
        found += rows
    return found


def setup(workdir: Path, data: Path, n: int) -> Path:
    from typer.testing import CliRunner

    from xlcli.cli import app

    rows = build_queries(data, n)
    beir = workdir / "beir"
    (beir / "qrels").mkdir(parents=True)
    with open(beir / "corpus.jsonl", "w", encoding="utf-8") as c, open(beir / "queries.jsonl", "w", encoding="utf-8") as q, \
            open(beir / "qrels" / "test.tsv", "w", encoding="utf-8") as r, open(workdir / "tr.jsonl", "w", encoding="utf-8") as t:
        r.write("query-id\tcorpus-id\tscore\n")
        for i, (en, lang, text) in enumerate(rows):
            c.write(json.dumps({"_id": f"p{i}", "title": "", "text": en}) + "\n")
            q.write(json.dumps({"_id": f"q{i}", "text": en}) + "\n")
            r.write(f"q{i}\tp{i}\t1\n")
            t.write(json.dumps({"query_id": f"q{i}", "lang": lang, "text": text}, ensure_ascii=False) + "\n")
    db = workdir / "base.db"
    runner = CliRunner()
    for args in (["ingest", "beir", str(beir), "--name", "bench"], ["ingest", "translations", str(workdir / "tr.jsonl")],
                 ["perturb", "--protocol", "ielab", "--langs", ",".join(LANGS), "--seed", "1"]):
        result = runner.invoke(app, ["--db", str(db), *args], catch_exceptions=False)
        if result.exit_code != 0:
            raise SystemExit(f"setup failed: xlcli {' '.join(args)}\n{result.output}")
    return db


def fresh(base: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(str(base) + suffix).exists():
            shutil.copy(str(base) + suffix, str(target) + suffix)
    return target


def request(data: Path):
    from xlcli.rewrite.backends import Request

    return Request("lexicon", "en", {lang: data / "muse" / f"en-{lang}.txt" for lang in LANGS})


class ScanIndex:
    """The naive alternative: rapidfuzz extractOne over the whole vocabulary for every word."""

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = vocabulary

    def lookup(self, word: str):
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        from xlcli.rewrite.fuzzy import Match, budget

        if budget(word) == 0:
            return None
        hit = process.extractOne(word, self.vocabulary, scorer=Levenshtein.normalized_similarity, score_cutoff=0.75)
        return None if hit is None else Match(hit[0], Levenshtein.distance(word, hit[0]), 0)


def run_xlcli(base: Path, work: Path, data: Path, tag: str, scan_texts: int | None = None) -> dict:
    from xlcli.rewrite import runner
    from xlcli.store import open_store

    db = fresh(base, work / f"{tag}.db")
    t0 = time.perf_counter()
    with open_store(db, write=True) as store:
        plan = runner.plan(store, request(data), name="bench", variants="all")
        if scan_texts is not None:
            plan.items = plan.items[:scan_texts]
            for cascade in plan.backend.cascades.values():
                cascade._fuzzy = ScanIndex(list(cascade.d.folded))
        t1 = time.perf_counter()
        result = runner.run(store, plan)
        t2 = time.perf_counter()
    steady = None
    if scan_texts is None:
        # Steady state: the same backend (dictionaries read, indexes built) on a fresh store, its
        # per-word caches emptied — what each text costs once the one-off setup is paid.
        for cascade in plan.backend.cascades.values():
            cascade._words.clear()
            cascade._scoped.clear()
        again = fresh(base, work / f"{tag}-steady.db")
        with open_store(again, write=True) as store:
            t3 = time.perf_counter()
            runner.run(store, plan)
            steady = time.perf_counter() - t3
        for suffix in ("", "-wal", "-shm"):
            Path(str(again) + suffix).unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return {"texts": result.added, "plan": t1 - t0, "run": t2 - t1, "steady": steady}


def lookups(data: Path, base: Path, sample: int = 300) -> dict[str, float]:
    """Seconds per lookup of misspelled words that are not dictionary entries (es)."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein
    from sqlalchemy import text
    from symspellpy import SymSpell, Verbosity

    from xlcli.rewrite import lexicon
    from xlcli.rewrite.fuzzy import FuzzyIndex, rank_counts
    from xlcli.rewrite.text import fold
    from xlcli.store import open_store

    d = lexicon.load(data / "muse" / "en-es.txt", "es", "en")
    with open_store(base, write=False) as store, store.read() as conn:
        pairs = conn.execute(text("SELECT q.text, v.text FROM query_variants v JOIN queries q ON q.id = v.query_id"
                                  " WHERE q.lang = 'es' LIMIT 20000")).all()
    words: list[str] = []
    for clean, typo in pairs:  # the misspelled word of each variant: the one its clean query lacks
        for w in set(re.findall(r"[^\W\d_]+", typo)) - set(re.findall(r"[^\W\d_]+", clean)):
            w = fold(w)
            if len(w) >= 4 and w not in d.folded and w not in words:
                words.append(w)
    words = words[:sample]
    vocabulary = list(d.folded)
    t = time.perf_counter()
    ours = FuzzyIndex(rank_counts(vocabulary))
    build = time.perf_counter() - t
    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for word, count in rank_counts(vocabulary):
        sym.create_dictionary_entry(word, count)

    def each(f) -> float:
        start = time.perf_counter()
        for w in words:
            f(w)
        return (time.perf_counter() - start) / len(words)

    return {
        "words": len(words), "vocabulary": len(vocabulary), "build": build,
        "xlcli FuzzyIndex": each(ours.lookup),
        "symspellpy lookup": each(lambda w: sym.lookup(w, Verbosity.CLOSEST, max_edit_distance=2)),
        "rapidfuzz extractOne": each(lambda w: process.extractOne(w, vocabulary, scorer=Levenshtein.normalized_similarity,
                                                                 score_cutoff=0.75)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scan-texts", type=int, default=1500)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data / "muse").is_dir():
        args.data = Path("/work/shared/data")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rewrite-speed-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        base = setup(work, args.data, args.queries)
        print(f"setup (ingest + perturb, not timed below): {time.perf_counter() - t:.1f} s", file=sys.stderr)
        runs: dict[str, list[dict]] = {"xlcli": [], "scan": []}
        for i in range(args.repeat):
            runs["xlcli"].append(run_xlcli(base, work, args.data, f"x{i}"))
            runs["scan"].append(run_xlcli(base, work, args.data, f"s{i}", scan_texts=args.scan_texts))
            print(f"repeat {i + 1}/{args.repeat} done", file=sys.stderr)
        per_lookup = lookups(args.data, base)
    load_after = os.getloadavg()

    def med(rows, f):
        return statistics.median(f(r) for r in rows)

    x, s = runs["xlcli"], runs["scan"]
    print(f"\nxlcli rewrite --backend lexicon, MUSE en-{{es,de,fr,ru}} read in reverse; {x[0]['texts']:,} texts "
          f"({args.queries:,} queries + their ielab variants); one core; medians of {args.repeat} alternating runs")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} "
          f"{load_after[1]:.2f} {load_after[2]:.2f} (shared machine)\n")
    print(f"| {'system':<46} | {'texts':>7} | {'plan s':>7} | {'run s':>7} | {'texts/s (run)':>13} | {'texts/s (plan+run)':>18} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 15}|{'-' * 20}|")
    for label, rows in (("xlcli (symspellpy index)", x), ("same cascade, rapidfuzz extractOne scan", s)):
        print(f"| {label:<46} | {rows[0]['texts']:>7,} | {med(rows, lambda r: r['plan']):>7.2f} | {med(rows, lambda r: r['run']):>7.2f} | "
              f"{med(rows, lambda r: r['texts'] / r['run']):>13,.0f} | {med(rows, lambda r: r['texts'] / (r['plan'] + r['run'])):>18,.0f} |")
    print(f"| {'xlcli, steady state (indexes built)':<46} | {x[0]['texts']:>7,} | {'':>7} | "
          f"{med(x, lambda r: r['steady']):>7.2f} | {med(x, lambda r: r['texts'] / r['steady']):>13,.0f} | {'':>18} |")
    print(f"\nper lookup, {per_lookup['words']} misspelled es words not in the dictionary, vocabulary {per_lookup['vocabulary']:,} "
          f"(FuzzyIndex built in {per_lookup['build']:.2f} s):\n")
    print(f"| {'lookup':<24} | {'µs/word':>9} |")
    print(f"|{'-' * 26}|{'-' * 11}|")
    for key in ("xlcli FuzzyIndex", "symspellpy lookup", "rapidfuzz extractOne"):
        print(f"| {key:<24} | {per_lookup[key] * 1e6:>9,.0f} |")


if __name__ == "__main__":
    main()
