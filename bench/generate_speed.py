"""Query generation and QG augmentation: speed and dictionary coverage.

    python bench/generate_speed.py [--passages 32] [--batch-sizes 1,4,16,32] [--repeats 3]
                                   [--model default|PATH] [--muse ../shared/data/muse] [--sections 1,2,3]

1. Generation throughput (passages/s, one language, 5 queries of ≤ 32 tokens each, top-k 10) of a
   tiny randomly initialised T5 on CPU by batch size: xlcli's per-query seeded sampler against
   transformers' own ``generate(do_sample=True, num_return_sequences=5)`` (one shared random stream)
   on the same prompts, in the same run.
2. Augmentation cost over plain indexing on the bundled LoCoMo fixture (lexicon pseudo-queries,
   es/de/fr/ru × 5 per passage): ``xlcli index`` with and without ``--augment``.
3. Dictionary coverage of the fixture lexicons on the fixture (and of the full MUSE dictionaries
   when ``--muse`` points at them; skipped cleanly otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from timing import alternate, load, median, spread

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "locomo" / "locomo_fixture.json"
LEXICONS = ROOT / "fixtures" / "lexicon"
MUSE = Path(os.environ.get("MUSE_DIR", ROOT.parent / "shared" / "data" / "muse"))
LANGS = ("es", "de", "fr", "ru")
sys.path.insert(0, str(ROOT / "tests"))  # the tiny-model builders the tests use


def xlcli(db: Path, *args: str) -> str:
    from typer.testing import CliRunner

    from xlcli.cli import app

    result = CliRunner().invoke(app, ["--db", str(db), *map(str, args)], catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"xlcli {' '.join(map(str, args))} failed:\n{result.output}")
    return result.stdout


def passages(db: Path, n: int) -> list[str]:
    rows = json.loads(xlcli(db, "sql", "--json", f"SELECT text FROM passages ORDER BY id LIMIT {n}"))
    return [r["text"] for r in rows]


def generation_speed(db: Path, tmp: Path, n: int, batch_sizes: list[int], repeats: int) -> None:
    import torch
    from conftest import make_tiny_t5

    from xlcli.generate.seq2seq import DEFAULT_PROMPT, Seq2SeqGenerator, format_prompt, load_seq2seq
    from xlcli.seeding import derive_seed

    torch.set_num_threads(1)  # shared 2-core machines: one thread gives the steadiest numbers
    model_dir = make_tiny_t5(tmp / "tiny-t5")
    tokenizer, model, device = load_seq2seq(str(model_dir), device="cpu")
    prompts = [format_prompt(DEFAULT_PROMPT, lang="es", title="", passage=t) for t in passages(db, n)]
    seeds = [[derive_seed(0, i, "es", j) for j in range(5)] for i in range(len(prompts))]
    ours = Seq2SeqGenerator(tokenizer, model, device, top_k=10, max_new_tokens=32)

    def reference(batch: list[str]) -> None:
        encoded = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            model.generate(**encoded, do_sample=True, top_k=10, num_return_sequences=5, max_new_tokens=32, min_new_tokens=1)

    print(f"\n1. Generation, tiny T5 (d_model 32, 2+2 layers), CPU ({torch.get_num_threads()} thread), "
          f"{len(prompts)} passages × 1 language × 5 queries, ≤ 32 new tokens, top-k 10, "
          f"median of {repeats} alternating rounds; {load()}")
    print(f"{'batch':>6} {'xlcli passages/s':>18} {'HF do_sample passages/s':>25} {'ratio':>7}   seconds xlcli / HF (min-max)")
    for size in batch_sizes:
        def side(run):
            def go():
                torch.manual_seed(0)
                for i in range(0, len(prompts), size):
                    run(prompts[i : i + size], seeds[i : i + size])
            return go

        times, _ = alternate(repeats, [side(ours.sample), side(lambda b, s: reference(b))])
        ours_rate, hf_rate = len(prompts) / median(times[0]), len(prompts) / median(times[1])
        print(f"{size:>6} {ours_rate:>18.1f} {hf_rate:>25.1f} {ours_rate / hf_rate:>7.2f}   {spread(times[0])} / {spread(times[1])}")


def augmentation_cost(db: Path, model: str) -> None:
    lexicon_args = [a for lang in LANGS for a in ("--lexicon", f"{lang}={LEXICONS / f'en-{lang}.txt'}")]
    start = time.perf_counter()
    xlcli(db, "generate", "queries", *lexicon_args)
    generate_s = time.perf_counter() - start
    (count,) = json.loads(xlcli(db, "sql", "--json", "SELECT count(*) AS n FROM generated_queries"))
    timings = {}
    for name, extra in (("plain", []), ("xqg", ["--augment", "lexicon-es-de-fr-ru", "--alpha", "0.01"])):
        start = time.perf_counter()
        xlcli(db, "index", "--name", name, "--model", model, "--device", "cpu", *extra)
        timings[name] = time.perf_counter() - start
    (n,) = json.loads(xlcli(db, "sql", "--json", "SELECT count(*) AS n FROM passages"))
    print(f"\n2. Augmentation cost on the fixture ({n['n']:,} passages, {count['n']:,} lexicon pseudo-queries; "
          f"model {model}, CPU)")
    print(f"{'step':<36}{'seconds':>9}{'× plain':>9}")
    print(f"{'generate queries --backend lexicon':<36}{generate_s:>9.2f}{generate_s / timings['plain']:>9.2f}")
    print(f"{'index (plain)':<36}{timings['plain']:>9.2f}{1.0:>9.2f}")
    print(f"{'index --augment (α 0.01, sum)':<36}{timings['xqg']:>9.2f}{timings['xqg'] / timings['plain']:>9.2f}")


def coverage(db: Path, muse: Path) -> None:
    from xlcli.generate.lexicon import CorpusStats, read_muse, tokenize
    from xlcli.perturb.tables import stopwords

    summary = json.loads(xlcli(db, "generate", "queries", "--json",
                               *[a for lang in LANGS for a in ("--lexicon", f"{lang}={LEXICONS / f'en-{lang}.txt'}")]))
    texts = [r["text"] for r in json.loads(xlcli(db, "sql", "--json", "SELECT text FROM passages"))]
    stats = CorpusStats(texts, stopwords("en"))
    vocabulary = {t.norm for text in texts for t in tokenize(text) if stats.content(t) and not t.number}
    print(f"\n3. Dictionary coverage on the fixture ({len(vocabulary):,} content word types)")
    print(f"{'lang':<6}{'dictionary':<22}{'entries':>9}{'query terms covered':>21}{'word types covered':>20}")
    for lang in LANGS:
        dictionaries = [("fixtures/lexicon", LEXICONS / f"en-{lang}.txt")]
        if (muse / f"en-{lang}.txt").exists():
            dictionaries.append(("full MUSE", muse / f"en-{lang}.txt"))
        for label, path in dictionaries:
            lexicon = read_muse(path)
            types = sum(w in lexicon.entries for w in vocabulary) / len(vocabulary)
            terms = f"{summary['coverage'][lang]['coverage']:.1%}" if label == "fixtures/lexicon" else "-"
            print(f"{lang:<6}{label:<22}{len(lexicon):>9,}{terms:>21}{types:>20.1%}")
    if not muse.exists():
        print(f"(full MUSE dictionaries skipped: {muse} not found; pass --muse DIR)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sections", default="1,2,3", help="which sections to run, e.g. 1,3")
    parser.add_argument("--batch-sizes", default="1,4,16,32")
    parser.add_argument("--model", default="default", help="encoder for section 2: default (packaged MiniLM) or a path")
    parser.add_argument("--muse", type=Path, default=MUSE)
    args = parser.parse_args()
    if not FIXTURE.exists():
        print(f"skipped: {FIXTURE} not found")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "bench.db"
        xlcli(db, "ingest", "locomo", FIXTURE, "--name", "fixture")
        sections = set(args.sections.split(","))
        if "1" in sections:
            generation_speed(db, tmp, args.passages, [int(b) for b in args.batch_sizes.split(",")], args.repeats)
        if "2" in sections:
            augmentation_cost(db, args.model)
        if "3" in sections:
            coverage(db, args.muse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
