"""Helpers every command module uses: the workspace from the global option, JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # the workspace (sqlite3, the store) loads when a command runs, not for --help
    from ..workspace import Workspace


def workspace_root(ctx: typer.Context) -> Path | None:
    """The --workspace given before the command, if any."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Path) else None


def open_ws(ctx: typer.Context, *, create: bool = False) -> "Workspace":
    from ..workspace import open_workspace

    return open_workspace(workspace_root(ctx), create=create)


def print_json(data: Any) -> None:
    # Plain print, not rich: JSON on stdout must be exactly parseable.
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))
