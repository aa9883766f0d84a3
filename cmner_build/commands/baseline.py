"""Commands of the baseline stage (issue 7): registered on the app by `register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this stage's commands; empty until the stage is built."""
