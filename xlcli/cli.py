"""The ``xlcli`` command: a Typer app that registers one thin command module per step."""

from __future__ import annotations

from pathlib import Path

import typer

from xlcli import __version__
from xlcli.errors import XlcliError


class _Group(typer.core.TyperGroup):
    """Turns a user's mistake (XlcliError) anywhere below into one line and exit code 2."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except XlcliError as exc:
            typer.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


app = typer.Typer(
    cls=_Group,
    name="xlcli",
    help="Cross-lingual dense retrieval with non-English, misspelled queries — every step in one SQLite store.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xlcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None, "--db", envvar="XLCLI_DB", help="The store (a SQLite file). Default ./xlcli.db.", show_default=False
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    from xlcli.commands.common import AppState

    ctx.obj = AppState(db)


def _register() -> None:
    # One line per command, in the order of a study; heavy imports (torch, transformers) stay
    # inside the commands so that `xlcli --help` and skipped pipeline steps stay fast.
    from xlcli.commands import demo, generate, index, ingest, inspect, perturb, pipeline, report, rewrite, search, sql, status, train
    from xlcli.commands import eval as eval_

    app.add_typer(ingest.app, name="ingest")
    app.command("perturb")(perturb.perturb)
    app.command("rewrite")(rewrite.rewrite)
    app.add_typer(generate.app, name="generate")
    app.command("train")(train.train)
    app.command("index")(index.index)
    app.command("search")(search.search)
    app.command("eval")(eval_.eval_)
    app.command("report")(report.report)
    app.command("inspect")(inspect.inspect)
    app.add_typer(pipeline.app, name="pipeline")
    app.command("demo")(demo.demo)
    app.command("status")(status.status)
    app.command("sql")(sql.sql)


_register()


def main() -> None:
    app()
