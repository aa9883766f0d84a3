"""How library entry points report progress without depending on the terminal.

A `ProgressFactory` is called as `factory(description, total)` and returns a context manager that yields
`advance(n=1, status=None)`. The CLI passes `console.progress_task` (a rich bar); a notebook or a test
passes nothing and gets `no_progress`.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

ProgressFactory = Callable[[str, "int | None"], ContextManager[Callable[..., None]]]


def no_progress(_description: str, _total: int | None) -> ContextManager[Callable[..., None]]:
    """A progress factory that shows nothing."""
    return nullcontext(lambda *_args, **_kwargs: None)
