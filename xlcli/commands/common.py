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
