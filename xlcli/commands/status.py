"""``xlcli status``: what the store holds and every step invocation."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from xlcli.commands.common import open_existing, out, print_json
from xlcli.status import collect

_STATE_STYLE = {"done": "green", "running": "yellow", "failed": "red", "interrupted": "magenta"}


def _counts(mapping: dict) -> str:
    return "\n".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}" for k, v in mapping.items()) or "—"


def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Per dataset: passages, queries by language and split, qrels, variants, generated queries,
    indexes and runs; then every step invocation with its parameters, state and time."""
    with open_existing(ctx) as store:
        info = collect(store)
    if as_json:
        print_json(info)
        return
    out.print(f"Store [bold]{info['store']}[/] (schema version {info['schema_version']})")
    for ds in info["datasets"]:
        table = Table(title=f"{ds['name']} ({ds['kind']}, {ds['lang']})", title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("passages", f"{ds['passages']:,} in {ds['scopes']} scopes" if ds["scopes"] else f"{ds['passages']:,}")
        if len(ds["passages_by_unit"]) > 1:
            table.add_row("  by unit", _counts(ds["passages_by_unit"]))
        table.add_row("queries", f"{ds['queries']:,}")
        table.add_row("  by lang/split", _counts(ds["queries_by_lang_split"]))
        if ds.get("queries_by_category"):
            table.add_row("  by category", _counts(ds["queries_by_category"]))
        table.add_row("qrels", f"{ds['qrels']:,} for {ds['queries_with_qrels']:,} queries")
        for key, label in (("variant_sets", "variants"), ("generated_queries", "generated queries")):
            if ds[key]:
                table.add_row(label, _counts(ds[key]))
        if ds["indexes"]:
            table.add_row("indexes", "\n".join(f"{n}: {i['kind']}, {i['entries']:,} entries, {i['status']}" for n, i in ds["indexes"].items()))
        if ds["training_runs"]:
            table.add_row("training runs", ", ".join(ds["training_runs"]))
        if ds["eval_runs"]:
            table.add_row("eval runs", str(ds["eval_runs"]))
        if "parallel_sentences" in ds:
            table.add_row("sentence pairs", f"{ds['parallel_sentences']:,}")
        out.print(table)
    if info["models"]:
        table = Table("model", "source", "dim", "pooling", "step", title="Models", title_justify="left")
        for m in info["models"]:
            table.add_row(m["name"], m["source"], str(m["dim"]), m["pooling"], "" if m["step"] is None else str(m["step"]))
        out.print(table)
    table = Table("id", "step", "state", "started", "finished", "parameters", title="Step invocations", title_justify="left")
    for inv in info["invocations"]:
        style = _STATE_STYLE.get(inv["state"], "")
        params = json.dumps(inv["params"], ensure_ascii=False)
        table.add_row(str(inv["id"]), inv["step"], f"[{style}]{inv['state']}[/]", inv["started_at"], inv["finished_at"] or "",
                      params if len(params) < 120 else params[:117] + "...")
    out.print(table)
