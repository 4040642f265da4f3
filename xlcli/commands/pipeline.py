"""``xlcli pipeline``: run the steps of a study config in order; show their state."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from xlcli import pipeline
from xlcli.commands.common import out, store_path
from xlcli.store import open_store

app = typer.Typer(help="Run a whole study from one TOML config (see README: Pipelines).", no_args_is_help=True)

_STYLE = {"done": "green", "skipped": "green", "pending": "dim", "running": "yellow", "failed": "red", "interrupted": "magenta"}


def _db(ctx: typer.Context, study: pipeline.Study) -> Path:
    explicit = ctx.find_root().obj.db
    return explicit or study.db or store_path(ctx)


@app.command("run")
def run(ctx: typer.Context, config: Path = typer.Argument(..., help="Study config (TOML).")) -> None:
    """Run the steps the config lists; finished steps are skipped, interrupted ones resume."""
    study = pipeline.load(config, ctx.find_root().command)
    with open_store(_db(ctx, study)) as store:
        pipeline.run(store, study, echo=lambda m: out.print(m, markup=False, highlight=False))
    out.print(f"Pipeline {config} done; store: {store.path}")


@app.command("status")
def status(ctx: typer.Context, config: Path = typer.Argument(..., help="Study config (TOML).")) -> None:
    """Each step of the config: done, running, interrupted, failed or pending."""
    study = pipeline.load(config, ctx.find_root().command)
    db = _db(ctx, study)
    if not db.exists():
        states = [(step, "pending", None) for step in study.steps]
    else:
        with open_store(db, write=False) as store:
            states = pipeline.status(store, study)
    table = Table("#", "step", "state", "detail", title=f"{config} → {db}", title_justify="left")
    for step, state, detail in states:
        info = "" if not detail else (f"{detail['seconds']} s" if "seconds" in detail else str(detail.get("error") or ""))
        table.add_row(str(step.number), " ".join(step.argv), f"[{_STYLE.get(state, '')}]{state}[/]", info)
    out.print(table)
