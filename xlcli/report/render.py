"""Render a :class:`~xlcli.report.tables.Report` as a rich table, Markdown, CSV, JSON or LaTeX.

Text formats show measures ×100 with one decimal, as IR papers do; CSV and JSON carry the
exact fractions, so they match ``xlcli sql`` over ``eval_measures``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from xlcli.report.tables import CLEAN, Report

FORMATS = ("rich", "md", "csv", "json", "latex")


@dataclass(frozen=True)
class Score:
    """A system's mean, and its gain over the baseline with the significance mark (``*``, ``**``)."""

    mean: float
    gain: float | None = None
    mark: str = ""

    @property
    def direction(self) -> int:
        """+1 for a significant gain, -1 for a significant loss, 0 when not significant."""
        if not self.mark or self.gain is None:
            return 0
        return 1 if math.copysign(1.0, self.gain) > 0 else -1


@dataclass(frozen=True)
class Drop:
    """Misspelled − clean: absolute and relative (NaN when the clean mean is 0)."""

    absolute: float
    relative: float


Cell = str | Score | Drop | None  # a label, a measure, a drop, or nothing measured


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.1f}"


def _condition_label(condition: str) -> str:
    return condition if condition == CLEAN else f"typo:{condition}"


def _same(text: str) -> str:
    return text


def plain(cell: Cell, esc=_same, mark=_same) -> str:
    """The text of a cell: ``esc`` escapes text for the format, ``mark`` writes a significance mark
    (LaTeX makes it a superscript), so no format has to find the mark again in the text."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return esc(cell)
    if isinstance(cell, Drop):
        relative = "" if math.isnan(cell.relative) else f" ({100 * cell.relative:+.0f}%)"
        return esc(_signed(cell.absolute) + relative)
    text = esc(_pct(cell.mean))
    if cell.gain is not None:
        text += esc(f" ({_signed(cell.gain)}") + (mark(cell.mark) if cell.mark else "") + ")"
    return text


def grid(report: Report, langs: list[str] | None = None) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows of cells: the one layout every text format shares."""
    langs = langs or report.langs
    by_category = report.groups != [""]
    if by_category:
        header = ["system", "lang", "condition", *report.groups]
        rows: list[list[Cell]] = []
        for system in report.systems:
            for lang in langs:
                for condition in report.conditions:
                    cells = [_score(report, system, lang, condition, g) for g in report.groups]
                    if any(c is not None for c in cells):
                        rows.append([system.label, lang, _condition_label(condition), *cells])
        return header, rows
    header = ["system"]
    columns = []
    for lang in langs:
        for condition in report.conditions:
            header.append(f"{lang} {_condition_label(condition)}")
            columns.append((lang, condition, "value"))
            if condition != CLEAN and CLEAN in report.conditions:
                header.append(f"{lang} drop")
                columns.append((lang, condition, "drop"))
    rows = []
    for system in report.systems:
        row: list[Cell] = [system.label]
        for lang, condition, what in columns:
            if what == "value":
                row.append(_score(report, system, lang, condition, ""))
            else:
                drop = report.drop(system, lang, condition)
                row.append(None if drop is None else Drop(*drop))
        rows.append(row)
    return header, rows


def _score(report: Report, system, lang: str, condition: str, group: str) -> Score | None:
    cell = report.cell(system, lang, condition, group)
    if cell is None:
        return None
    gain = report.gains.get((system.key, lang, condition, group))
    if gain is None or math.isnan(gain.test.mean_diff):
        return Score(cell.mean)
    return Score(cell.mean, gain.test.mean_diff, gain.mark)


def caption(report: Report, esc=_same, mark=_same) -> str:
    """The table's legend; ``esc`` and ``mark`` as in :func:`plain`."""
    return (
        esc(f"{report.measure} ×100. Gains over baseline {report.baseline.name!r} in parentheses; paired t-test over "
            "queries, Holm-adjusted across the table: ") + mark("*") + esc(" p<0.05, ") + mark("**")
        + esc(" p<0.01. A misspelled condition's per-query value is the mean over that query's variants; "
              "drop = misspelled − clean (relative in %).")
        + esc("".join(f" {s.name}: trained with {s.recipe}." for s in report.systems if s.recipe))
        + esc(_rewrites(report))
    )


def _rewrites(report: Report) -> str:
    """What each rewrite in the table did to the queries (INDEX ⟲ REWRITE ranks the rewritten texts)."""
    described = {s.rewrite: s.rewrite_description for s in report.systems if s.rewrite}
    if not described:
        return ""
    return " ⟲ REWRITE: the index ranks the queries as rewritten by " + "; ".join(f"{n} = {d}" for n, d in described.items()) + "."


def render(report: Report, fmt: str, width: int | None = None) -> str | Group:
    if fmt == "json":
        return json.dumps({"measure": report.measure, "baseline": report.baseline.name, "rows": report.records()},
                          ensure_ascii=False, indent=2)
    if fmt == "csv":
        records = report.records()
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue()
    header, rows = grid(report)
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(plain(cell, esc=lambda t: t.replace("|", "\\|")) for cell in row) + " |" for row in rows]
        return "\n".join(lines) + "\n\n" + caption(report) + "\n"
    if fmt == "latex":
        return _latex(header, rows, report)
    return Group(*(_rich_table(report, chunk, i == 0) for i, chunk in enumerate(_lang_chunks(report, width))),
                 Text(caption(report), style="dim"))


def _lang_chunks(report: Report, width: int | None) -> list[list[str]]:
    """Languages per rich table so that each fits the terminal (a wide table would be unreadable)."""
    if report.groups != [""] or width is None:
        return [report.langs]
    system_width = max(len(s.label) for s in report.systems) + 3
    per_lang = 17 * (2 * len(report.conditions) - 1)
    fit = max(1, (width - system_width) // per_lang)
    return [report.langs[i : i + fit] for i in range(0, len(report.langs), fit)]


def _rich_table(report: Report, langs: list[str], first: bool) -> Table:
    header, rows = grid(report, langs)
    table = Table(title=f"{report.measure} by system, language and condition" if first else None, title_justify="left")
    table.add_column(header[0], no_wrap=True)
    for name in header[1:]:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*(_rich_cell(c) for c in row))
    return table


def _rich_cell(cell: Cell) -> str:
    """Significant gains green, significant losses red; everything else as is."""
    text = plain(cell, esc=escape)
    direction = cell.direction if isinstance(cell, Score) else 0
    return f"[green]{text}[/]" if direction > 0 else f"[red]{text}[/]" if direction < 0 else text


def _latex(header: list[str], rows: list[list[Cell]], report: Report) -> str:
    def esc(text: str) -> str:
        for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"), ("–", "--")):
            text = text.replace(a, b)
        return text

    def superscript(mark: str) -> str:
        return f"$^{{{mark}}}$"

    def cell(value: Cell) -> str:
        return plain(value, esc=esc, mark=superscript)

    lines = [
        "\\begin{table}",
        "\\centering",
        "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        "\\toprule",
        " & ".join(esc(h) for h in header) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(cell(c) for c in row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{caption(report, esc, superscript)}}}", "\\end{table}"]
    return "\n".join(lines) + "\n"
