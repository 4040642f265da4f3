"""``xlcli perturb``: misspelled variants of a dataset's queries (or a preview of one text)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from xlcli.commands.common import open_existing, out, print_json
from xlcli.commands.ranges import FRACTION, PER_ITEM, SEED
from xlcli.errors import XlcliError
from xlcli.perturb.protocols import option_help, protocols_help

LAYOUT_HELP = (
    "Keyboard layout for a language, LANG=NAME_OR_FILE: a shipped layout (en de fr es it pt pt-PT ru) or a JSON file "
    "{\"rows\": [{\"offset\": 0, \"base\": \"^1234567890ß´\", \"shift\": \"°!\\\"§$%&/()=?`\"}, ...], \"dead_keys\": \"áéí\"} "
    "(rows top to bottom; offset in key widths; one character per key, space = none). Repeatable."
)


def perturb(
    ctx: typer.Context,
    protocol: str = typer.Option(..., "--protocol", "-p", help=protocols_help()),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset name (optional when the store holds one)."),
    langs: str | None = typer.Option(None, "--langs", help="Comma-separated languages (default: all of the dataset's)."),
    split: str | None = typer.Option(None, "--split", help="Only this split (default: all)."),
    variants: int | None = typer.Option(None, "--variants", "-n", callback=PER_ITEM, help="Variants per query (default 10).", show_default=False),
    rate: float | None = typer.Option(None, "--rate", callback=FRACTION, help=option_help("rate", "probability that a word is perturbed"), show_default=False),
    max_edits: int | None = typer.Option(None, "--max-edits", callback=PER_ITEM, help=option_help("max_edits", "most words changed per variant"), show_default=False),
    seed: int = typer.Option(13, "--seed", callback=SEED, help="Seed; with the query text, protocol and parameters it fixes every variant."),
    layout: list[str] | None = typer.Option(None, "--layout", help=LAYOUT_HELP),
    name: str | None = typer.Option(None, "--name", help="Name of a new variant set (default: the protocol, e.g. ielab, rate-0.1)."),
    preview: str | None = typer.Option(None, "--preview", help="Perturb this text and print the variants; the store is not touched."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the --preview text."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Make misspelled query variants: keyboard typos, dropped diacritics, orthographic confusions.

    Each variant records its operations, Levenshtein and Damerau (OSA) distance, its seed and the
    invocation that made it. Same query + protocol + parameters + seed → same variants, anywhere.
    Re-running adds nothing; other parameters make a new variant set beside the old ones.
    """
    from xlcli.perturb import store as S
    from xlcli.perturb import tables as TB
    from xlcli.perturb.protocols import Spec

    spec = Spec.make(protocol, variants, rate, max_edits)
    layout_specs = S.parse_layout_options(layout)

    if preview is not None:
        if langs is not None or dataset is not None or split is not None or name is not None:
            raise XlcliError("--preview perturbs one text: use --lang (not --langs/--dataset/--split/--name) with it")
        if lang is None:
            raise XlcliError("--preview needs the text's language: add --lang, e.g. --lang es")
        _preview(preview, lang, spec, seed, layout_specs, as_json)
        return
    if lang is not None:
        raise XlcliError("--lang goes with --preview; to choose the dataset's languages use --langs")

    lang_list = None
    if langs is not None:
        lang_list = []
        for part in langs.split(","):
            if part.strip():
                code = TB.check_lang(part, user_layout=part.strip().lower() in layout_specs)
                if code not in lang_list:
                    lang_list.append(code)
        if not lang_list:
            raise XlcliError("--langs: no language given")

    from xlcli import progress

    with open_existing(ctx, write=True) as store:
        plan = S.make_plan(store, dataset=dataset, spec=spec, seed=seed, langs=lang_list, split=split, layout_specs=layout_specs)
        with progress.bar(f"Perturbing ({spec.protocol})", total=None, unit="queries") as bar:
            result = S.run(store, plan, name=name, on_progress=bar.advance, on_total=bar.set_total)
    _report(result, plan, as_json)


def _preview(text: str, lang: str, spec, seed: int, layout_specs: dict, as_json: bool) -> None:
    from xlcli.perturb import store as S
    from xlcli.perturb import tables as TB
    from xlcli.perturb.protocols import perturb as make

    code = TB.check_lang(lang, user_layout=lang.strip().lower() in layout_specs)
    extra = sorted(set(layout_specs) - {code})
    if extra:
        raise XlcliError(f"--layout given for {', '.join(extra)} but the preview text is --lang {code}")
    if not text.strip():
        raise XlcliError("--preview: the text is empty")
    tables, _ = S.resolve_tables([code], layout_specs)
    t = tables[code]
    outcome = make(text, t, spec, seed)
    if outcome.skip is not None:
        if outcome.skip.startswith("script not typable"):
            raise XlcliError(
                f"--preview: the text is not typable on the {code} layout ({t.layout.title}): it is mostly in a script "
                f"the layout does not have; give the right --lang or a --layout {code}=FILE for that script"
            )
        raise XlcliError(f"--preview: nothing to perturb — {outcome.skip}")
    if as_json:
        print_json({
            "source": outcome.source, "lang": code, "layout": t.layout.name, "protocol": spec.protocol,
            "params": spec.params(), "seed": seed, "query_seed": outcome.seed,
            "variants": [
                {"idx": i, "text": v.text, "operations": [op.as_dict() for op in v.ops],
                 "levenshtein": v.levenshtein, "damerau": v.damerau}
                for i, v in enumerate(outcome.variants)
            ],
        })
        return
    params = ", ".join(f"{k} {v}" for k, v in spec.params().items())
    out.print(f"[bold]{escape(outcome.source)}[/]  ({code}, {escape(t.layout.title)}; {spec.protocol}: {params}; seed {seed})")
    table = Table("#", "variant", "operations", "lev", "osa")
    for i, v in enumerate(outcome.variants):
        table.add_row(str(i), escape(v.text), escape("; ".join(op.describe() for op in v.ops)), str(v.levenshtein), str(v.damerau))
    out.print(table)
    if len(outcome.variants) < spec.variants:
        out.print(f"only {len(outcome.variants)} distinct variants exist under this protocol (asked for {spec.variants})")


def _report(result, plan, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    params = ", ".join(f"{k} {v}" for k, v in plan.spec.params().items())
    head = f"variant set [bold]{escape(result.name)}[/] ({plan.spec.protocol}: {params}; seed {plan.seed})"
    if result.already_done:
        out.print(f"{head}: already made with these parameters — nothing to do.")
    else:
        out.print(f"{head}: added {result.added_variants:,} variants; {result.added_skips:,} queries skipped.")
    table = Table("lang", "queries", "perturbed", "variants", "skipped", "short", title=f"{plan.dataset}: {result.name}", title_justify="left")
    for lang, s in result.by_lang.items():
        table.add_row(lang, f"{s.queries:,}", f"{s.perturbed:,}", f"{s.variants:,}", f"{s.skipped:,}", f"{s.short:,}")
    out.print(table)
    if result.skip_reasons:
        reasons = Table("skip reason", "queries", title="Skipped queries (table variant_skips)", title_justify="left")
        for reason, n in result.skip_reasons.items():
            reasons.add_row(escape(reason), f"{n:,}")
        out.print(reasons)
    if any(s.short for s in result.by_lang.values()):
        out.print(f"short: queries for which fewer than {plan.spec.variants} distinct variants exist under this protocol.")
