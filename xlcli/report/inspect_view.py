"""The rich view of :func:`xlcli.report.inspect.inspect_query`'s result (``xlcli inspect``)."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _operations(ops: list[dict]) -> str:
    return "; ".join(f"{o.get('op')} {o.get('old', '')!s}→{o.get('new', '')!s}" for o in ops) or "–"


def _ranks(entry: dict) -> str:
    return " ".join(f"{r['ext_id']} @{r['rank'] if r['rank'] is not None else '>depth'}" for r in entry["relevant_ranks"]) or "–"


def _top(entry: dict) -> str:
    lines = []
    for t in entry["top"]:
        mark = "[green]✓[/]" if t["relevance"] else ("[dim]·0[/]" if t["relevance"] == 0 else " ")
        lines.append(f"{t['rank']:>2} {mark} {escape(t['ext_id'])} [dim]{t['score']:.3f}[/]")
    return "\n".join(lines) or "[dim](nothing retrieved)[/]"


def render(result: dict) -> Group:
    q = result["query"]
    head = f"[bold]{escape(q['text'])}[/]\n[dim]{escape(result['dataset'])} · {escape(q['ext_id'])} · {q['lang']} · split {q['split']}"
    head += (f" · {escape(q['category'])}" if q["category"] else "") + (f" · scope {escape(q['scope'])}" if q["scope"] else "") + "[/]"
    parts: list = [Panel(head, title="query", title_align="left")]
    if result["translations"]:
        table = Table("lang", "text", "translator", title="translations", title_justify="left")
        for t in result["translations"]:
            table.add_row(t["lang"], escape(t["text"]), escape(t["translator"] or "human/original"))
        parts.append(table)
    table = Table("passage", "rel", "text", title="relevant passages", title_justify="left")
    for r in result["relevant"]:
        body = (f"[bold]{escape(r['title'])}[/] " if r["title"] else "") + escape(r["text"])
        table.add_row(escape(r["ext_id"]), str(r["relevance"]), body)
    parts.append(table)
    for rw in result["rewrites"]:
        parts.append(Text(f"rewrite ({rw['rewrite_run'] or rw['rewrite_run_id']}): {rw['text']}"))
    if result["variants"]:
        table = Table("set", "#", "variant", "lev", "dam", "operations", "rewrites", title="misspelled variants", title_justify="left")
        for v in result["variants"]:
            rewrites = "\n".join(escape(f"{w['rewrite_run'] or w['rewrite_run_id']}: {w['text']}") for w in v["rewrites"])
            table.add_row(escape(v["variant_set"]), str(v["idx"]), escape(v["text"]), str(v["levenshtein"]), str(v["damerau"]),
                          escape(_operations(v["operations"])), rewrites)
        parts.append(table)
    for system in result["systems"]:
        table = Table(title=f"system {system['system']}", title_justify="left", show_lines=True)
        table.add_column("condition", no_wrap=True)
        table.add_column("query")
        table.add_column("relevant at rank", no_wrap=True)
        table.add_column("measures")
        table.add_column(f"top {result['k']}", no_wrap=True)
        for run in system["runs"]:
            for entry in run["entries"]:
                label = run["condition"] if entry["variant_idx"] is None else f"{run['condition']} #{entry['variant_idx']}"
                measures = "\n".join(f"{m} {v:.3f}" for m, v in entry["measures"].items())
                table.add_row(escape(label), escape(entry["text"]), escape(_ranks(entry)), measures, _top(entry))
            if any(e["variant_idx"] is not None for e in run["entries"]):
                # What eval counts for the query under a variant set: the mean over its variants.
                measures = "\n".join(f"{m} {v:.3f}" for m, v in run["measures"].items())
                table.add_row(escape(f"{run['condition']} mean"), f"[dim]mean over {len(run['entries'])} variants[/]", "", measures, "")
        if not system["runs"]:
            table.add_row("–", "no eval run of this system covers this query", "", "", "")
        parts.append(table)
    if not result["systems"]:
        parts.append(Text("No eval run covers this query yet: run `xlcli eval`.", style="dim"))
    return Group(*parts)
