"""`cmner-build translate`: an exported corpus into the other language, labels kept with SPAN placeholders."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import open_ws, print_json

EXAMPLE = (
    "Example: cmner-build -w corpus translate --to zh --export twitter2015/ --output exports/twitter2015-zh "
    "--translator command --command 'python my_mt.py'"
)


def register(app: typer.Typer) -> None:
    app.command("translate", epilog=EXAMPLE)(translate)


def translate(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="Target language: zh (CMNER layout, labels per character) or en "
                           "(Twitter-2015 layout, labels per token)."),
    export: Path = typer.Option(..., "--export", help="The export folder to translate (CMNER or Twitter-2015 layout)."),
    output: Optional[Path] = typer.Option(
        None, "--output", help="Where the translated export is written (default: <workspace>/exports/<export>-<to>)."
    ),
    translator: Optional[str] = typer.Option(None, "--translator", help="marian (the default), command or file."),
    model: Optional[str] = typer.Option(
        None, "--model", help="Marian model: hub name or local folder (default: Helsinki-NLP/opus-mt-en-zh or -zh-en)."
    ),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", help="Text put before every Marian input (default: >>cmn_Hans<< for en->zh, none for zh->en)."
    ),
    command: Optional[str] = typer.Option(
        None, "--command", help="With --translator command: a program reading one sentence per line on stdin and "
        "writing one translation per line on stdout (run without a shell)."
    ),
    translations: Optional[Path] = typer.Option(
        None, "--translations", help='With --translator file: JSONL lines {"source": ..., "target": ...}.'
    ),
    cache: Optional[Path] = typer.Option(
        None, "--cache", help="Translation cache, JSONL (default: <workspace>/translations/<direction>-<translator>.jsonl)."
    ),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Sentences per translator call (default 32)."),
    device: Optional[str] = typer.Option(None, "--device", help="Marian: auto, cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Translate an exported corpus into the other language; entity labels are kept with SPAN placeholders."""
    from cmner_build.baselines.entry import translate_in_workspace

    from ..console import info, progress_task

    report = translate_in_workspace(
        open_ws(ctx, create=True), to, export, output=output, translator=translator, model=model, prefix=prefix,
        command=command, translations=translations, cache=cache, batch_size=batch_size, device=device,
        progress=progress_task, log=info,
    )
    output = Path(report.output_dir)
    if as_json:
        print_json(report.to_dict())
        return
    info(f"{report.direction}: {sum(report.kept.values())} of {sum(report.posts.values())} posts and "
         f"{report.entities_kept} of {report.entities} entities survived; {report.translated} strings translated, "
         f"{report.strings - report.translated} from the cache")
    for reason, count in report.reasons.items():
        info(f"  rejected, {reason}: {count}")
    info(f"written to {output} (rejected posts: {output / 'rejected.jsonl'})")
