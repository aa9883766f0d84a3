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

# `--help` lists commands by panel, in the order a corpus is built.
HELP_PANELS: dict[str, str] = {
    "init": "1. Workspace", "import": "1. Workspace", "demo": "1. Workspace",
    "crawl": "2. Collect", "clean": "2. Collect", "images": "2. Collect",
    "agreement": "3. Annotate", "doccano": "3. Annotate", "annotate": "3. Annotate", "adjudicate": "3. Annotate",
    "export": "4. Release", "stats": "4. Release",
    "features": "5. Baselines", "baseline": "5. Baselines", "predict": "5. Baselines",
}
_ORDER = list(HELP_PANELS)


def _command_name(info: object) -> str:
    typer_instance = getattr(info, "typer_instance", None)
    return getattr(info, "name", None) or (typer_instance.info.name if typer_instance else "") or ""


for _infos in (app.registered_commands, app.registered_groups):
    _infos.sort(key=lambda info: _ORDER.index(_command_name(info)) if _command_name(info) in _ORDER else len(_ORDER))
    for _info in _infos:
        _info.rich_help_panel = HELP_PANELS.get(_command_name(_info), _info.rich_help_panel)


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
