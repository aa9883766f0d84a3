"""The `cmner-build` command line: a thin layer that parses, calls the library, and prints.

Each stage's commands live in `cmner_build/commands/<stage>.py` and are registered here. Heavy
libraries are imported inside the commands, so `cmner-build --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .commands import REGISTRARS
from .errors import CmnerError
from .workspace import WORKSPACE_ENV

app = typer.Typer(
    name="cmner-build",
    help="Build Chinese multimodal NER corpora from Weibo, the way CMNER was built.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: cmner-build init corpus && cmner-build -w corpus crawl --topic 体育 --limit 50",
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    workspace: Optional[Path] = typer.Option(
        None,
        "--workspace",
        "-w",
        help=f"Workspace folder (default: ${WORKSPACE_ENV}, else the current folder).",
        show_default=False,
    ),
) -> None:
    ctx.obj = workspace


for register in REGISTRARS:
    register(app)


def main() -> None:
    try:
        app()
    except CmnerError as error:
        from .console import err

        err.print(f"[bold red]error:[/bold red] {_escape(str(error))}", highlight=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        from .console import err

        err.print("[yellow]interrupted[/yellow]: everything committed so far is kept; run the command again to resume")
        sys.exit(130)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
