"""``xlcli rewrite``: rewrite queries and their misspelled variants (translate-test, spelling correction)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from xlcli import languages, progress
from xlcli.commands.common import open_existing, out, print_json
from xlcli.commands.ranges import BATCH, PER_ITEM, TOKENS
from xlcli.rewrite.backends import help_text

STEP_ORDER = ("exact", "kept", "folded", "lemma", "compound", "fuzzy", "name", "transliterated", "number", "stopword", "unknown")


def rewrite(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Name of the rewrite run (eval --rewrite NAME uses it)."),
    backend: str = typer.Option(..., "--backend", "-b", help=help_text()),
    to: str | None = typer.Option(None, "--to", help="Target language (lexicon, mt; default en). Not for spell.", show_default=False),
    lexicon: list[str] | None = typer.Option(None, "--lexicon", help="LANG=PATH, a MUSE dictionary (en-xx read in reverse, xx-en directly). Repeatable."),
    model: str | None = typer.Option(None, "--model", help="mt: hub id or directory of a Marian, M2M100, NLLB or mBART-50 model."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the only one)."),
    langs: str | None = typer.Option(None, "--langs", help="Languages of the queries to rewrite, e.g. es,de,fr,ru."),
    split: str | None = typer.Option(None, "--split", help="Only queries of this split, e.g. test (default: all)."),
    variants: str = typer.Option("all", "--variants", help="Variant sets whose variants are rewritten too: all | none | SET,SET."),
    translations: int = typer.Option(1, "--translations", callback=PER_ITEM, help="lexicon: keep up to N translations of a word (structured, Pirkola 1998)."),
    lemma: bool = typer.Option(True, "--lemma/--no-lemma", help="lexicon: look up the lemma (simplemma) of a word not found."),
    compound: bool = typer.Option(True, "--compound/--no-compound", help="lexicon: split compounds (German and the like)."),
    fuzzy: bool = typer.Option(True, "--fuzzy/--no-fuzzy", help="lexicon: typo-tolerant lookup of the nearest entry."),
    names: bool = typer.Option(True, "--names/--no-names", help="lexicon: match capitalised words to the passages' proper nouns."),
    device: str = typer.Option("auto", "--device", help="mt: auto, cpu, cuda, cuda:N or mps."),
    batch_size: int | None = typer.Option(None, "--batch-size", callback=BATCH, help="Texts per batch (mt: per model call, default 32).", show_default=False),
    num_beams: int = typer.Option(4, "--num-beams", callback=PER_ITEM, help="mt: beam size."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", callback=TOKENS, help="mt: longest translation in tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Rewrite every query of the chosen languages and split, and every stored misspelled variant of them.

    Each rewritten text is a row of query_rewrites with its per-word operations (which step of the
    cascade resolved each word, and how far the match was). Re-running does nothing; a run killed
    half-way resumes where it stopped.
    """
    from xlcli.errors import XlcliError
    from xlcli.generate.jobs import parse_lexicons
    from xlcli.rewrite import runner
    from xlcli.rewrite.backends import Request, get

    get(backend)
    if batch_size is not None and batch_size < 1:
        raise XlcliError(f"--batch-size {batch_size}: must be at least 1")
    request = Request(backend, languages.check(to, where="--to") if to else None, parse_lexicons(lexicon or []), model,
                      translations, lemma, compound, fuzzy, names, device, batch_size, num_beams, max_new_tokens)
    lang_list = languages.parse_list(langs)
    wanted_sets = runner.parse_variants(variants)
    with open_existing(ctx, write=True) as store:
        plan = runner.plan(store, request, name=name, dataset=dataset, langs=lang_list, split=split, variants=wanted_sets)
        with progress.bar(f"Rewriting ({backend})", None, unit="texts") as bar:
            result = runner.run(store, plan, on_total=bar.set_total, on_progress=bar.advance)
    _report(result, plan, as_json)


def _report(result, plan, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    target = "each query's own language" if plan.target == "source" else plan.target
    head = f"rewrite run [bold]{escape(result.name)}[/] ({plan.backend_name} → {target}; {plan.dataset}"
    head += f", split {plan.split}" if plan.split else ""
    head += f"; variants: {', '.join(plan.variant_sets) or 'none'})"
    if result.already_done:
        out.print(f"{head}: already done with these parameters — nothing to do.")
    else:
        out.print(f"{head}: rewrote {result.added:,} texts; {result.skipped:,} already present.")
    found = {step for v in result.by_lang.values() for step in v.get("steps", {})}
    steps = [s for s in STEP_ORDER if s in found] + sorted(found - set(STEP_ORDER))
    langs = list(result.by_lang)
    table = Table("", *langs, title="Rewritten texts, and their words by the step that resolved them", title_justify="left")
    for label, field in (("clean queries", "clean"), ("variants", "variants"), ("words", "words")):
        table.add_row(label, *(f"{result.by_lang[lang].get(field) or 0:,}" for lang in langs))
    for step in steps:
        table.add_row(f"  {step}", *(f"{result.by_lang[lang].get('steps', {}).get(step, 0):,}" for lang in langs))
    rates = []
    for lang in langs:
        s = result.by_lang[lang]
        rates.append("—" if s.get("unknown") is None or not s.get("words") else f"{100 * s['unknown'] / s['words']:.1f}%")
    table.add_row("unknown words", *rates)
    out.print(table)
