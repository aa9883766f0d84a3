"""`cmner-build demo`: the whole flow on the bundled sample, as the command lines a user would type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import typer

from .common import workspace_root

DEMO_MARKER = ".cmner-demo"
DEFAULT_DEMO_DIR = Path("demo-workspace")


def sample_dir() -> Path:
    """The bundled synthetic sample corpus (cmner_build/sample)."""
    from importlib import resources

    return Path(str(resources.files("cmner_build") / "sample"))


@dataclass
class DemoStep:
    title: str
    # Command-line arguments after `cmner-build -w DIR`, with {sample} for the sample folder;
    # or a callable (workspace path) -> arguments, for steps that choose at run time (None: skip it).
    args: Union[Sequence[str], Callable[[Path], Optional[Sequence[str]]]]


def _annotate_step(name: str) -> Callable[[Path], Optional[Sequence[str]]]:
    """A step of annotate/doccano/demo.py, imported when the step runs (not at CLI start)."""

    def step(root: Path) -> Optional[Sequence[str]]:
        from cmner_build.annotate.doccano import demo as doccano_demo

        return getattr(doccano_demo, name)(root)

    return step


DEMO_STEPS: list[DemoStep] = [
    # A recorded crawl of the three topics (scripts/make_crawl_archive.py), parsed without the network.
    DemoStep("Crawl the three topics from a recorded Weibo archive (offline)",
             ["crawl", "--from-archive", "{sample}/archive"]),
    DemoStep("Clean the crawled posts: text rules, privacy, content filter, near-duplicates", ["clean"]),
    DemoStep("Check, filter and dedupe their images; report what was dropped", ["images", "--report"]),
    # With a served Doccano the accounts and pushes go there; the annotators' work always comes from
    # the bundled export zips (scripts/make_demo_annotations.py): nobody annotates during a demo.
    DemoStep("Annotator accounts (served Doccano only)", _annotate_step("users_step")),
    DemoStep("Push a 20-post pilot to every annotator (served Doccano only)", _annotate_step("push_pilot_step")),
    DemoStep("Pull the pilot: three annotators' export (bundled)",
             ["annotate", "pull", "--from-export", "{sample}/annotations/pilot.zip", "--batch", "pilot",
              "--round", "pilot"]),
    DemoStep("Pilot agreement and the 90 % gate", ["agreement", "--round", "pilot"]),
    DemoStep("Push the main batch to a triple (served Doccano, pilot passed)", _annotate_step("push_main_step")),
    DemoStep("Pull the main batch: three annotators' export (bundled)",
             ["annotate", "pull", "--from-export", "{sample}/annotations/batch-0001.zip", "--batch", "batch-0001",
              "--round", "main"]),
    DemoStep("Annotation progress per batch and annotator", ["annotate", "status"]),
    DemoStep("Agreement on every batch", ["agreement", "--round", "all"]),
    DemoStep("Adjudicate: majority spans to gold, open conflicts by the majority policy",
             ["adjudicate", "--auto", "majority"]),
    DemoStep("Export train / dev / test at 3:1:1", ["export", "--split", "3:1:1", "--format", "cmner"]),
    DemoStep("Corpus statistics (Table 1, distributions, leak audit)", ["stats"]),
    # One epoch on ~35 posts only shows the path from export to a saved run: expect scores near zero.
    # benchmarks/bench_acn.py trains the real thing on the CMNER release.
    DemoStep("Text-only ACN baseline, one epoch on the tiny sample (scores near 0 are expected)",
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
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text("created by `cmner-build demo`; removed and rebuilt on the next demo run\n")


def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on the bundled sample corpus, offline, in ./demo-workspace (or -w DIR)."""
    from ..console import err

    root = workspace_root(ctx) or DEFAULT_DEMO_DIR
    prepare_demo_dir(root)
    # The running app's root command, from the context: no import of cli.py (which imports this module).
    app = ctx.find_root().command

    sample = str(sample_dir())
    for number, step in enumerate(DEMO_STEPS, start=1):
        args = step.args(root) if callable(step.args) else step.args
        err.rule(f"[bold]{number}. {step.title}")
        if args is None:
            err.print("skipped (offline)", style="dim")
            continue
        args = [arg.replace("{sample}", sample) for arg in args]
        err.print(f"$ cmner-build -w {root} {' '.join(args)}", style="dim", highlight=False, markup=False)
        exit_code = app.main(["-w", str(root), *args], prog_name="cmner-build", standalone_mode=False)
        if exit_code:
            from ..errors import CmnerError

            raise CmnerError(f"demo step {number} ({step.title}) exited with {exit_code}; the workspace is kept in {root}")
    err.rule("[bold green]demo finished")
    err.print(f"workspace: {root}  (exports in {root / 'exports'})", highlight=False, markup=False)
