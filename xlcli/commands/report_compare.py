"""``xlcli report --compare A,B``: the per-query comparison of two systems (thin: parse, compare, print)."""

from __future__ import annotations

import typer

from xlcli import languages
from xlcli.commands.common import open_existing, out
from xlcli.errors import XlcliError


def report_compare(ctx: typer.Context, systems: str, *, dataset: str | None, measure: str, langs: str | None,
                   condition: str, worst: int, fmt: str) -> None:
    from xlcli.report import compare

    names = [s.strip() for s in systems.split(",") if s.strip()]
    if len(names) != 2:
        raise XlcliError(f"--compare {systems}: give two systems, A,B")
    lang_list = languages.parse_list(langs)
    with open_existing(ctx) as store, store.read() as conn:
        result = compare.compare(conn, names[0], names[1], dataset=dataset, measure=measure, langs=lang_list,
                                 condition=compare.parse_condition(condition), worst=worst)
    rendered = compare.render(result, fmt)
    if isinstance(rendered, str):
        typer.echo(rendered, nl=not rendered.endswith("\n"))
    else:
        out.print(rendered)
