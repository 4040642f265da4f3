"""The ``xlcli`` command: a Typer app that registers one thin command module per step."""

from __future__ import annotations

from pathlib import Path

import typer

try:  # recent typer vendors its own click (typer._click): its exceptions are what the parser raises
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - an older typer on the real click
    from click.exceptions import NoArgsIsHelpError, UsageError

from xlcli import __version__
from xlcli.errors import XlcliError, raising_user_errors


def _usage_message(exc: UsageError) -> str:
    """A parser error as the one line every other mistake is: ``... (see xlcli CMD --help)``."""
    message = " ".join(exc.format_message().split())
    path = exc.ctx.command_path if exc.ctx is not None else "xlcli"
    return f"{message} (see {path} --help)"


class _Group(typer.core.TyperGroup):
    """Turns a user's mistake anywhere below — an XlcliError, or the argument parser's usage
    error (missing option, bad choice, unknown option, not a number) — into one line on stderr
    and exit code 2, instead of a traceback or rich's multi-line box."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:  # the root's own options (`xlcli --bogus`)
            if raising_user_errors():
                raise XlcliError(_usage_message(exc)) from None
            typer.echo(f"Error: {_usage_message(exc)}", err=True)
            raise typer.Exit(exc.exit_code) from None

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except XlcliError as exc:
            if raising_user_errors():
                raise
            typer.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            if raising_user_errors():
                raise XlcliError(_usage_message(exc)) from None
            typer.echo(f"Error: {_usage_message(exc)}", err=True)
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
    # A query may start with "--" (an SQL comment): it is the argument, not an unknown option.
    app.command("sql", context_settings={"ignore_unknown_options": True})(sql.sql)


_register()


def main() -> None:
    app()
