"""`cmner-build demo`: the whole flow on the bundled sample, as the command lines a user would type."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import typer

from .common import workspace_root

DEMO_MARKER = ".cmner-demo"
DEFAULT_DEMO_DIR = Path("demo-workspace")


def sample_dir() -> Path:
    """The bundled synthetic sample corpus (cmner_build/sample)."""
    return Path(str(resources.files("cmner_build") / "sample"))


@dataclass
class DemoStep:
    title: str
    # Command-line arguments after `cmner-build -w DIR`, with {sample} for the sample folder;
    # or a callable (workspace path) -> arguments, for steps that choose at run time.
    args: Union[Sequence[str], Callable[[Path], Sequence[str]]]


DEMO_STEPS: list[DemoStep] = [
    DemoStep("Import the bundled sample release as gold",
             ["import", "{sample}/sample.txt", "--format", "cmner", "--images", "{sample}/images"]),
    DemoStep("Export train / dev / test at 3:1:1", ["export", "--split", "3:1:1", "--format", "cmner"]),
    DemoStep("Corpus statistics (Table 1, distributions, leak audit)", ["stats"]),
    DemoStep("Text-only ACN baseline, one epoch (no pretrained weights needed)",
             ["baseline", "acn", "--images", "none", "--epochs", "1"]),
    DemoStep("All baseline runs side by side", ["baseline", "report"]),
]


def register(app: typer.Typer) -> None:
    app.command("demo", epilog="Example: cmner-build demo   (or: cmner-build -w /tmp/demo demo)")(demo)


def prepare_demo_dir(root: Path) -> None:
    """Start from an empty demo workspace; refuse to wipe a folder that is not one of ours."""
    if root.exists() and any(root.iterdir()):
        if not (root / DEMO_MARKER).exists():
            from ..errors import WorkspaceError

            raise WorkspaceError(f"{root} is not empty and is not a demo workspace; choose another with -w")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text("created by `cmner-build demo`; removed and rebuilt on the next demo run\n")


def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on the bundled sample corpus, offline, in ./demo-workspace (or -w DIR)."""
    from ..console import err

    root = workspace_root(ctx) or DEFAULT_DEMO_DIR
    prepare_demo_dir(root)
    from ..cli import app

    sample = str(sample_dir())
    for number, step in enumerate(DEMO_STEPS, start=1):
        args = step.args(root) if callable(step.args) else step.args
        args = [arg.replace("{sample}", sample) for arg in args]
        err.rule(f"[bold]{number}. {step.title}")
        err.print(f"$ cmner-build -w {root} {' '.join(args)}", style="dim", highlight=False, markup=False)
        app(["-w", str(root), *args], standalone_mode=False)
    err.rule("[bold green]demo finished")
    err.print(f"workspace: {root}  (exports in {root / 'exports'})", highlight=False)
