"""Terminal output shared by all commands: messages and progress on stderr, data on stdout."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

err = Console(stderr=True)
out = Console(highlight=False)
# Redirected to a file or pipe, a message is one line however long (rich would wrap at 80 columns);
# tables still fit rich's default width.
for _console in (err, out):
    _console.soft_wrap = not _console.is_terminal


def make_progress(*, transient: bool = False) -> Progress:
    """The one progress bar style of cmner-build."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        transient=transient,
        # A bar is for a person watching: redirected, it would only leave its last frame in the log.
        disable=not err.is_terminal,
    )


@contextmanager
def progress_task(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A progress bar with one task; yields advance(n=1, status='')."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")

        def advance(n: int = 1, status: str | None = None) -> None:
            if status is None:
                progress.advance(task, n)
            else:
                progress.update(task, advance=n, status=status)

        yield advance


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def info(message: str) -> None:
    err.print(escape(message), highlight=False)
