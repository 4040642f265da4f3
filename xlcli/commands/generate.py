"""``xlcli generate``: cross-lingual query generation (seq2seq or lexicon) and query translation."""

from __future__ import annotations

import typer
from rich.table import Table

from xlcli import languages, progress
from xlcli.commands.common import err, open_existing, out, print_json
from xlcli.commands.ranges import BATCH, PER_ITEM, POSITIVE, SEED, TOKENS, TOKENS_MAX, whole
from xlcli.errors import XlcliError
from xlcli.generate.seq2seq import DEFAULT_PROMPT  # light: transformers is imported only when a model loads

app = typer.Typer(help="Generate cross-lingual queries for passages, or machine-translate stored queries.",
                  no_args_is_help=True)



@app.command("queries")
def queries(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Seq2seq generator: hub id or local directory "
                                        "(reference: ielabgroup/xor-tydi-docTquery-mt5-base)."),
    langs: str | None = typer.Option(None, "--langs", help="Target languages, e.g. ar,es,de,ru (lexicon: default all given dictionaries)."),
    backend: str | None = typer.Option(None, "--backend", help="seq2seq or lexicon (default: lexicon when --lexicon is given)."),
    lexicon: list[str] = typer.Option([], "--lexicon", help="LANG=PATH of a MUSE dictionary (source target per line); repeatable."),
    per_lang: int = typer.Option(5, "--per-lang", callback=PER_ITEM, help="Queries per passage and language."),
    top_k: int = typer.Option(10, "--top-k", callback=whole(0, TOKENS_MAX), help="Seq2seq: sample from the k most likely tokens (0 = all)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", callback=TOKENS, help="Seq2seq: longest query in tokens."),
    batch_size: int = typer.Option(16, "--batch-size", callback=BATCH, help="Seq2seq: (passage, language) prompts per generate call."),
    prompt: str = typer.Option(DEFAULT_PROMPT, "--prompt", help="Seq2seq prompt with {language} {title} {passage}."),
    terms: str = typer.Option("3-6", "--terms", help="Lexicon: terms per pseudo-query, a-b."),
    seed: int = typer.Option(0, "--seed", callback=SEED, help="Seed of every sampling choice."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the only one)."),
    name: str | None = typer.Option(None, "--name", help="Generator run name (default derived from backend and languages)."),
    limit: int | None = typer.Option(None, "--limit", callback=POSITIVE, help="Only the first N passages (by store order)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """N queries per passage and target language, stored with their generator run (resumable)."""
    from xlcli.generate import jobs, runner

    backend = backend or ("lexicon" if lexicon else "seq2seq")
    if backend not in ("seq2seq", "lexicon"):
        raise XlcliError(f"--backend {backend}: use seq2seq or lexicon")
    wanted = languages.parse_list(langs) if langs is not None else None
    if backend == "lexicon" and model is not None:
        raise XlcliError("--model is for the seq2seq backend; the lexicon backend uses --lexicon LANG=PATH")
    if backend == "seq2seq":
        if lexicon:
            raise XlcliError("--lexicon is for the lexicon backend (add --backend lexicon, or drop --model)")
        if model is None:
            raise XlcliError("give --model HUB_ID|PATH (e.g. ielabgroup/xor-tydi-docTquery-mt5-base) or use --backend lexicon --lexicon LANG=PATH")
        if wanted is None:
            raise XlcliError("give the target languages with --langs, e.g. --langs ar,es,de,ru")
    store = open_existing(ctx, write=True)
    try:
        common = {"per_lang": per_lang, "seed": seed, "dataset": dataset, "name": name, "limit": limit}
        if backend == "lexicon":
            plan, make_backend = jobs.lexicon_job(store, lexicons=jobs.parse_lexicons(lexicon), langs=wanted, terms=terms,
                                                  **common)
        else:
            plan, make_backend = jobs.seq2seq_job(
                store, model=model, langs=wanted, top_k=top_k, max_new_tokens=max_new_tokens, batch_size=batch_size,
                prompt=prompt, device=device, warn=lambda m: err.print(f"[yellow]Warning:[/] {m}"), **common,
            )
        generator = make_backend()
        with progress.bar(f"Generating ({plan.spec.name})", None, unit="pairs") as bar:
            result = runner.run(store, plan, generator, on_start=lambda total, done: bar.set_total(total),
                                on_batch=lambda n, lang: bar.advance(n, info=lang))
    finally:
        store.dispose()
    _report(result, as_json)


def _report(result, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    if result.already_done:
        out.print(f"[bold]{result.run}[/]: already generated with these options — nothing to do.")
    else:
        out.print(f"[bold]{result.run}[/] ({result.backend}): {result.added:,} queries added for "
                  f"{result.pairs - result.skipped:,} (passage, language) pairs; {result.skipped:,} pairs were already done.")
    if result.coverage:
        table = Table("lang", "queries", "terms", "translated", "not in dictionary", "kept (names, numbers)", "coverage",
                      title="Dictionary coverage (translated / (translated + not in dictionary))", title_justify="left")
        for lang, c in result.coverage.items():
            table.add_row(lang, f"{c['queries']:,}", f"{c['terms']:,}", f"{c['translated']:,}", f"{c['oov']:,}",
                          f"{c['kept']:,}", f"{c['coverage']:.1%}")
        out.print(table)


@app.command("translations")
def translations(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="MT model: hub id or directory (Marian opus-mt-*, M2M100, NLLB, mBART-50)."),
    source: str = typer.Option("en", "--from", help="Language of the queries to translate."),
    to: str = typer.Option(..., "--to", help="Target languages, e.g. es,de."),
    split: str | None = typer.Option(None, "--split", help="Only queries of this split (e.g. test)."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the only one)."),
    num_beams: int = typer.Option(4, "--num-beams", callback=PER_ITEM, help="Beam size."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", callback=TOKENS, help="Longest translation in tokens."),
    batch_size: int = typer.Option(32, "--batch-size", callback=BATCH, help="Queries per model call."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Machine-translate stored queries; translations link to their source and inherit its qrels."""
    from xlcli.encoders import resolve_path
    from xlcli.generate import runner, seq2seq, translate

    source = languages.check(source, where="--from")
    targets = languages.parse_list(to, where="--to")
    if source in targets:
        raise XlcliError(f"--to {to}: includes the source language {source!r}")
    kind, path = resolve_path(model) if model != "default" else ("package", model)
    model_id = path if kind == "path" else model
    store = open_existing(ctx, write=True)
    try:
        dataset_row, sources = runner.source_queries(store, dataset, source, split)
        tokenizer, network, dev = seq2seq.load_seq2seq(model, device=device)
        resolved = translate.resolve_targets(model, tokenizer, network, source, targets)
        translator = translate.Translator(tokenizer, network, dev, num_beams=num_beams, max_new_tokens=max_new_tokens)
        params = {"from": source, "to": targets, "split": split, "num_beams": num_beams, "max_new_tokens": max_new_tokens,
                  "family": next(iter(resolved.values())).family}
        with progress.bar("Translating", None, unit="queries") as bar:
            result = runner.translate_queries(
                store, dataset_row, sources, translator, resolved, model_name=model_id, params=params,
                batch_size=batch_size,
                on_start=bar.set_total,
                on_batch=lambda n, lang: bar.advance(n, info=lang),
            )
    finally:
        store.dispose()
    if as_json:
        print_json(result.as_dict())
    elif result.already_done:
        out.print(f"[bold]{result.dataset}[/]: already translated with {model_id} and these options — nothing to do.")
    else:
        added = ", ".join(f"{n:,} {lang}" for lang, n in result.added.items()) or "nothing"
        out.print(f"[bold]{result.dataset}[/]: machine-translated {result.sources:,} {source} queries with {model_id}: "
                  f"added {added}; {result.present:,} already present.")
