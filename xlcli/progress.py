"""Progress bars for long work: rich, on stderr, so stdout stays machine-readable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr = Console(stderr=True)


@contextmanager
def bar(description: str, total: int | None, unit: str = "items") -> Iterator[Bar]:
    """A progress bar with count, rate and ETA; ``advance(n)`` as work completes."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total, rate="", info="")
        yield Bar(progress, task, unit)


class Bar:
    def __init__(self, progress: Progress, task, unit: str):
        self._progress, self._task, self._unit = progress, task, unit

    def advance(self, n: int = 1, info: str | None = None) -> None:
        self._progress.advance(self._task, n)
        task = self._progress.tasks[self._task]
        speed = task.speed
        fields = {"rate": f"{speed:,.0f} {self._unit}/s" if speed else ""}
        if info is not None:
            fields["info"] = info
        self._progress.update(self._task, **fields)

    def set_total(self, total: int | None) -> None:
        """For work whose size is known only once it starts (e.g. what a resumed run has left)."""
        self._progress.update(self._task, total=total)


class _NoBar:
    def advance(self, n: int = 1, info: str | None = None) -> None:
        pass


def optional_bar(show: bool, description: str, total: int, unit: str = "passages"):
    """A progress bar on stderr, or a silent stand-in for library callers that want none."""
    return bar(description, total, unit=unit) if show else nullcontext(_NoBar())
