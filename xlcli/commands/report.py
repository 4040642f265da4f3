"""``xlcli report``: systems × languages × {clean, misspelled}, significance, exports, plots."""

from __future__ import annotations

from pathlib import Path

import typer

from xlcli import languages
from xlcli.commands.common import open_existing, out
from xlcli.errors import XlcliError
from xlcli.report import degradation, render, tables
from xlcli.store.catalog import resolve_dataset


def report(
    ctx: typer.Context,
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (default: the only one)."),
    runs: str | None = typer.Option(None, "--runs", help="Comma-separated eval invocation ids (see `xlcli status`); default: the latest run of each system, language and condition."),
    baseline: str | None = typer.Option(None, "--baseline", help="System (index name) the others are compared with (default: the first)."),
    measure: str = typer.Option("R@10", "--measure", help="Measure to report (one that eval computed)."),
    by: str = typer.Option("language,condition", "--by", help="language,condition (default) or category (LoCoMo)."),
    langs: str | None = typer.Option(None, "--langs", "--lang", help="Only these languages."),
    fmt: str = typer.Option("rich", "--format", help="rich, md, csv, json or latex."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the degradation plot (measure vs edit distance) to this PNG."),
    degradation_view: bool = typer.Option(True, "--degradation/--no-degradation", help="Show the degradation bars (rich format)."),
    compare: str | None = typer.Option(None, "--compare", help="A,B: per-query wins/ties/losses of system B against A, largest gains and losses."),
    condition: str = typer.Option("clean", "--condition", help="With --compare: clean, typo:NAME or a variant set's name."),
    worst: int = typer.Option(10, "--worst", help="With --compare: how many largest gains and losses to list."),
) -> None:
    """Tables of an eval: rows = systems, columns = languages × {clean, misspelled}, drops, gains with significance."""
    if fmt not in render.FORMATS:
        raise XlcliError(f"--format {fmt}: use one of {', '.join(render.FORMATS)}")
    if compare is not None:
        from xlcli.commands.report_compare import report_compare

        return report_compare(ctx, compare, dataset=dataset, measure=measure, langs=langs, condition=condition, worst=worst, fmt=fmt)
    if by not in ("language,condition", "condition,language", "language", "category"):
        raise XlcliError(f"--by {by}: use language,condition or category")
    invocation_ids = None
    if runs:
        try:
            invocation_ids = [int(r) for r in runs.split(",") if r.strip()]
        except ValueError:
            raise XlcliError(f"--runs {runs}: give eval invocation ids, e.g. 12,15") from None
    if plot is not None:
        degradation.check_plot_path(plot)
    lang_list = languages.parse_list(langs)
    with open_existing(ctx) as store, store.read() as conn:
        ds = resolve_dataset(conn, dataset)
        result = tables.build(conn, ds["id"], measure=measure, baseline=baseline, invocation_ids=invocation_ids,
                              by_category=by == "category", langs=lang_list)
        wants_curves = plot is not None or (fmt == "rich" and degradation_view)
        curves = tables.degradation(conn, ds["id"], result, invocation_ids) if wants_curves else {}
    if plot is not None and not any(len(c) > 1 for c in curves.values()):
        raise XlcliError("--plot: these eval runs have no misspelled variants to plot")
    rendered = render.render(result, fmt, width=out.width)
    if isinstance(rendered, str):
        typer.echo(rendered, nl=not rendered.endswith("\n"))
    else:
        out.print(rendered)
        if curves and any(len(c) > 1 for c in curves.values()):
            out.print(degradation.bars(curves, measure))
    if plot is not None:
        degradation.plot(curves, measure, plot)
        if fmt == "rich":
            out.print(f"Wrote {plot}")
