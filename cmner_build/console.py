"""Terminal output shared by all commands: messages and progress on stderr, data on stdout.

Outside text (topics, post ids, user names, file names, error messages) is never read as rich markup:
`warn`/`info` escape it, progress descriptions and status fields are plain text, and `DataTable` (the
table every command prints) shows its title and string cells as plain text. A topic named `[/red]`
prints as `[/red]`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# emoji=False: rich would turn `:b:` in outside text (a ratio `a:b:c`, a post) into an emoji; markup
# is escaped by the callers, emoji codes are switched off here for every message.
err = Console(stderr=True, emoji=False)
out = Console(highlight=False, emoji=False)
# Redirected to a file or pipe, a message is one line however long (rich would wrap at 80 columns);
# tables still fit rich's default width.
for _console in (err, out):
    _console.soft_wrap = not _console.is_terminal


def make_progress(*, transient: bool = False) -> Progress:
    """The one progress bar style of cmner-build."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}", markup=False),
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


def plain(value: object) -> RenderableType:
    """A table cell or title: strings as plain text (never markup), other renderables as they are."""
    return Text(value) if isinstance(value, str) else value  # type: ignore[return-value]


class DataTable(Table):
    """A rich Table whose title and string cells are plain text: outside strings cannot inject markup.
    Style a cell by passing a `Text` (e.g. `Text("ok", style="green")`)."""

    def __init__(self, *headers: object, title: object = None, **options: object) -> None:
        super().__init__(*headers, title=plain(title) if title is not None else None, **options)  # type: ignore[arg-type]

    def add_row(self, *cells: object, **options: object) -> None:  # type: ignore[override]
        super().add_row(*(plain(cell) if cell is not None else None for cell in cells), **options)  # type: ignore[arg-type]


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def info(message: str) -> None:
    err.print(escape(message), highlight=False)
