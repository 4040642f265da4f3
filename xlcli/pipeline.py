"""Run a study from one TOML file: the steps it lists, in order, each as its CLI command.

A config is a list of ``[[step]]`` tables; ``run`` names the command (``"ingest locomo"``,
``"perturb"``, ``"index"`` ...) and every other key is one of that command's options (``--name``
→ ``name``; ``test-conversations`` and ``test_conversations`` are the same) or arguments (by
their name, e.g. ``file``). ``true`` turns a flag on; a list repeats an option. Paths are
relative to the config file; ``{fixtures}`` stands for the bundled fixtures directory.

Each step runs in this process through the real command, so validation and output are the
command's own; the caller passes that root command in (``ctx.find_root().command``), so this
library never imports the application that uses it. The pipeline records one invocation per step
(its command line and the contents of the files it reads): a step that finished is skipped without
being started, and one that was interrupted is run again, which resumes it (every step is
resumable on its own).
"""

from __future__ import annotations

import json
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click

from xlcli.datasets.files import read_text, sha256
from xlcli.errors import XlcliError, user_errors_raised
from xlcli.store import Store, invocations
from xlcli.store.invocations import display_state

RESERVED = {"run", "db"}


def fixtures_dir() -> Path:
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "fixtures", package_dir.parent / "fixtures"):
        if candidate.is_dir():
            return candidate
    raise XlcliError("the bundled fixtures are missing from this installation")


@dataclass
class Step:
    number: int
    line: int
    run: str
    argv: list[str]
    files: list[Path] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.number}. xlcli {' '.join(self.argv)}"

    def identity(self) -> dict:
        """What makes two runs of this step the same: its command line and its input files' bytes."""
        return {"argv": self.argv, "files": {str(f): sha256(f) for f in self.files if f.is_file()}}


@dataclass
class Study:
    path: Path
    db: Path | None
    steps: list[Step]
    root: click.Command  # the application's root command, which runs each step


def _find_command(root, words: list[str], where: str):
    command = root
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            known = ", ".join(sorted(getattr(command, "commands", {}))) or "none"
            raise XlcliError(f"{where}: unknown step {' '.join(words)!r} (steps: {known})")
        command = sub
    if getattr(command, "commands", None):
        raise XlcliError(f"{where}: step {' '.join(words)!r} needs a subcommand ({', '.join(sorted(command.commands))})")
    if words and words[0] in ("pipeline", "demo"):
        raise XlcliError(f"{where}: a pipeline cannot run {words[0]!r}")
    return command


def _key_lines(text: str) -> list[dict[str, int]]:
    """For each [[step]] table, the line number of each key (tomllib keeps no positions)."""
    tables: list[dict[str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if re.match(r"^\[\[\s*step\s*\]\]", stripped):
            tables.append({"[[step]]": number})
        elif tables and (match := re.match(r'^"?([A-Za-z0-9_.-]+)"?\s*=', stripped)):
            tables[-1].setdefault(match.group(1), number)
        elif stripped.startswith("[") and not stripped.startswith("[["):
            tables.append({})  # another table: keys below are not a step's
    return [t for t in tables if "[[step]]" in t]


def _value_args(option: str, value, param, where: str, base: Path) -> tuple[list[str], list[Path]]:
    is_path = getattr(param.type_descriptor, "annotation", None) is Path
    values = value if isinstance(value, list) else [value]
    args, files = [], []
    for item in values:
        if isinstance(item, bool):
            if not getattr(param, "is_flag", False):
                raise XlcliError(f"{where}: {param.name} takes a value, not true/false")
            if item:
                args.append(option)
            elif param.secondary_opts:
                args.append(param.secondary_opts[0])
            continue
        if isinstance(item, (dict, list)):
            raise XlcliError(f"{where}: {param.name} must be a string, number or list of them")
        text = str(item).replace("{fixtures}", str(fixtures_dir()))
        if is_path:
            path = Path(text)
            path = path if path.is_absolute() else (base / path)
            files.append(path)
            text = str(path)
        args.extend([option, text] if option else [text])
    return args, files


def _check_values(command, args: list[str], where: str, run: str) -> None:
    """Parse a step's arguments as its command will (types, ranges, required options), so that a wrong
    value is refused when the config loads — before any step has run or written."""
    try:
        with command.make_context(run, list(args)):
            pass
    except XlcliError as exc:
        raise XlcliError(f"{where}: step {run!r}: {exc}") from None
    except Exception as exc:
        # The parser's usage errors (typer vendors its own click: matched by their interface, not class).
        message = getattr(exc, "format_message", None)
        if message is None:
            raise
        raise XlcliError(f"{where}: step {run!r}: {message()}") from None


def load(path: Path, root: click.Command, overrides: dict[str, dict] | None = None) -> Study:
    """Parse and check a config against the commands of ``root``; ``overrides`` ({run: {key: value}})
    change the steps it names."""
    if not path.is_file():
        raise XlcliError(f"{path}: no such config file")
    raw = read_text(path)  # one line for a file that is not UTF-8 or is empty
    try:
        config = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise XlcliError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(config) - {"db", "step"}
    if unknown:
        raise XlcliError(f"{path}: unknown top-level key {sorted(unknown)[0]!r} (use db and [[step]] tables)")
    tables = config.get("step") or []
    if not isinstance(tables, list) or not tables:
        raise XlcliError(f"{path}: no [[step]] tables")
    db = config.get("db")
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise XlcliError(f"{path}: db must be a file path in quotes, e.g. db = \"study.db\" (got {db!r})")
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise XlcliError(f"{path}: step {number} is not a table; write each step as a [[step]] table")
    for table in tables:
        if isinstance(table, dict) and overrides and str(table.get("run")) in overrides:
            table.update(overrides[str(table["run"])])
    lines = _key_lines(raw)
    base = path.resolve().parent
    steps = []
    for number, table in enumerate(tables, start=1):
        key_lines = lines[number - 1] if number - 1 < len(lines) else {}
        step_line = key_lines.get("[[step]]", 0)
        if "run" not in table:
            raise XlcliError(f"{path}:{step_line}: step {number} has no 'run' (e.g. run = \"index\")")
        words = str(table["run"]).split()
        command = _find_command(root, words, f"{path}:{key_lines.get('run', step_line)}")
        params = {p.name: p for p in command.params}
        positional, options, files = [], [], []
        for key, value in table.items():
            if key in RESERVED:
                continue
            where = f"{path}:{key_lines.get(key, step_line)}"
            param = params.get(key.replace("-", "_"))
            if param is None or param.name == "help":
                names = sorted(p.name.replace("_", "-") for p in command.params if p.name != "help")
                raise XlcliError(f"{where}: unknown parameter {key!r} for step {' '.join(words)!r} (parameters: {', '.join(names)})")
            if getattr(param, "param_type_name", "") == "argument":
                args, found = _value_args("", value, param, where, base)
                positional.extend(args)
            else:
                long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
                args, found = _value_args(long, value, param, where, base)
                options.extend(args)
            files.extend(found)
        _check_values(command, [*positional, *options], f"{path}:{step_line}", " ".join(words))
        steps.append(Step(number, step_line, " ".join(words), [*words, *positional, *options], files))
    return Study(path, (base / db) if db and not Path(db).is_absolute() else (Path(db) if db else None), steps, root)


def run_step(root: click.Command, db: Path, step: Step) -> int:
    """Run one step's command (a subcommand of ``root``) in this process; returns its exit code. A user
    error (XlcliError) is raised rather than printed, for the pipeline to report with the step's line."""
    try:
        with user_errors_raised():
            code = root.main(args=["--db", str(db), *step.argv], prog_name="xlcli", standalone_mode=False)
    except SystemExit as exc:  # a command calling sys.exit
        code = exc.code if isinstance(exc.code, int) else 1
    return code or 0


def run(store: Store, study: Study, *, echo=print) -> list[tuple[Step, str]]:
    """Run every step not yet done; stop at the first that fails."""
    outcome = []
    for step in study.steps:
        identity = step.identity()
        if invocations.find_done(store, "pipeline-step", identity) is not None:
            echo(f"[skip] {step.label} (done)")
            outcome.append((step, "skipped"))
            continue
        echo(f"[run ] {step.label}")
        before = invocations.snapshot(store, "pipeline-step", identity)
        invocation = invocations.begin(store, "pipeline-step", identity)
        started = time.perf_counter()
        try:
            code = run_step(study.root, store.path, step)
        except XlcliError as exc:
            # The step refused its input and, by contract, wrote nothing: the pipeline leaves no
            # trace of the attempt either (not even a 'failed' row), and says why in one line.
            invocations.restore(store, invocation, before)
            raise XlcliError(f"{study.path}:{step.line}: step {step.number} ({step.run}): {exc}") from None
        except BaseException as exc:
            invocations.fail(store, invocation, f"{type(exc).__name__}: {exc}")
            raise
        if code != 0:
            invocations.fail(store, invocation, f"exit code {code}")
            raise XlcliError(f"{study.path}:{step.line}: step {step.number} ({step.run}) failed with exit code {code}")
        invocations.finish(store, invocation, {"seconds": round(time.perf_counter() - started, 2)})
        outcome.append((step, "done"))
    return outcome


def status(store: Store, study: Study) -> list[tuple[Step, str, dict | None]]:
    """Each step's state: done, running, interrupted, failed or pending."""
    rows = []
    with store.read() as conn:
        for step in study.steps:
            row = invocations.find(conn, "pipeline-step", step.identity())
            if row is None:
                rows.append((step, "pending", None))
            else:
                rows.append((step, display_state(row["state"], row["pid"], row["host"]),
                             json.loads(row["summary_json"]) if row["summary_json"] else {"error": row["error"]}))
    return rows

