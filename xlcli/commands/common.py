"""What every command shares: the store path from the root options, consoles, JSON output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from xlcli.store import Store, default_path, open_store

out = Console(soft_wrap=True)
err = Console(stderr=True)


@dataclass
class AppState:
    db: Path | None

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else default_path()


def store_path(ctx: typer.Context) -> Path:
    return ctx.find_root().obj.db_path


def open_for_write(ctx: typer.Context) -> Store:
    return open_store(store_path(ctx), write=True)


def open_existing(ctx: typer.Context, *, write: bool = False) -> Store:
    return open_store(store_path(ctx), write=write, must_exist=True)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def print_runs(results: list, *, title: str, system_column: str, trec_out: Path | None, as_json: bool) -> None:
    """What ``eval`` and ``fuse`` print: one row (or JSON object) per stored run, reuse and export notes."""
    from rich.table import Table

    if as_json:
        print_json([r.as_dict() for r in results])
        return
    names_of_measures = list(results[0].means) if results else []
    table = Table(system_column, "lang", "condition", "queries", *names_of_measures, title=title, title_justify="left")
    for r in results:
        table.add_row(r.system, r.lang, r.condition, str(r.queries), *(f"{r.means[m]:.4f}" for m in names_of_measures))
    out.print(table)
    for r in results:  # what an approximate (--ann) index trades, measured on a sample of the queries
        recall = next(((k, v) for k, v in r.params.items() if k.startswith("ann_recall@")), None)
        if recall is not None:
            out.print(f"{r.system} {r.lang} {r.condition}: approximate search ({r.params['ann']['kind']}) "
                      f"{recall[0].replace('ann_recall', 'recall')} against exact {recall[1]:.4f} on a sample of queries.")
    reused = sum(r.reused for r in results)
    if reused:
        out.print(f"{reused} of {len(results)} runs were already stored and were reused.")
    if trec_out is not None:
        out.print(f"TREC runs and qrels written to {trec_out}/")
