"""The `cmner-build` command line: a thin layer that parses, calls the library, and prints.

Each stage's commands live in `cmner_build/commands/<stage>.py` and are registered here. Heavy
libraries are imported inside the commands, so `cmner-build --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from .commands import REGISTRARS
from .errors import CmnerError
from . import WORKSPACE_ENV

# Options that belong before the command: `cmner-build -w DIR stats`, not `cmner-build stats -w DIR`.
GLOBAL_OPTIONS = ("-w", "--workspace", "--version")


class PanelGroup(TyperGroup):
    """Click's plain help, with the commands listed in panels in the order a corpus is built.

    Plain on purpose: typer's rich help imports rich's markdown, syntax and traceback modules, which
    would triple the time `cmner-build --help` takes (benchmarks/bench_foundation.py)."""

    def format_commands(self, ctx, formatter) -> None:  # noqa: ANN001 - click's Context and HelpFormatter
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        commands = [(name, command) for name, command in commands if command is not None and not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)  # as click's own listing
        rows: dict[str, list[tuple[str, str]]] = {}
        for name, command in commands:
            rows.setdefault(HELP_PANELS.get(name, "Commands"), []).append((name, command.get_short_help_str(limit)))
        for panel, panel_rows in rows.items():
            with formatter.section(panel):
                formatter.write_dl(panel_rows)

    def resolve_command(self, ctx, args):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().resolve_command(ctx, args)
        except Exception as error:
            # typer < 0.25 appends "Did you mean ...?" to the message, and click >= 8.2 adds its own when
            # it prints an error that carries `possibilities`: keep click's, say it once.
            message = getattr(error, "message", None)
            if getattr(error, "possibilities", None) and isinstance(message, str) and ". Did you mean" in message:
                error.message = message.partition(". Did you mean")[0] + "."
            raise

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's Context; returns what the command returns
        try:
            return super().invoke(ctx)
        except Exception as error:
            # click's NoSuchOption (typer 0.25+ carries its own click, hence the check by name)
            if type(error).__name__ == "NoSuchOption" and getattr(error, "option_name", None) in GLOBAL_OPTIONS:
                error.message += (f" ({error.option_name} is a global option: put it before the command, "
                                  f"e.g. cmner-build {error.option_name} DIR {ctx.invoked_subcommand or 'COMMAND'})")
            raise


app = typer.Typer(
    name="cmner-build",
    cls=PanelGroup,
    help="Build Chinese multimodal NER corpora from Weibo, the way CMNER was built.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: cmner-build init corpus && cmner-build -w corpus crawl --topic 体育 --limit 50",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cmner-build {version('cmner-build')}")
        raise typer.Exit()


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
    _version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                  help="Print the version and exit."),
) -> None:
    ctx.obj = workspace


for register in REGISTRARS:
    register(app)

# `--help` lists commands by panel, in the order a corpus is built.
HELP_PANELS: dict[str, str] = {
    "init": "1. Workspace", "import": "1. Workspace", "demo": "1. Workspace",
    "crawl": "2. Collect", "clean": "2. Collect", "images": "2. Collect",
    "agreement": "3. Annotate", "doccano": "3. Annotate", "annotate": "3. Annotate", "adjudicate": "3. Annotate",
    "audit": "4. Release", "export": "4. Release", "stats": "4. Release",
    "features": "5. Baselines", "baseline": "5. Baselines", "translate": "5. Baselines",
    "predict": "5. Baselines",
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
