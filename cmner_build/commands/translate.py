"""`cmner-build translate`: an exported corpus into the other language, labels kept with SPAN placeholders."""

from __future__ import annotations

import hashlib
import re
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
    translator: str = typer.Option("marian", "--translator", help="marian, command or file."),
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
    from cmner_build.baselines.crosslingual_settings import (
        LANGUAGE_OF_FORMAT,
        MARIAN_MODELS,
        MARIAN_PREFIXES,
        TRANSLATE_BATCH_SIZE,
        TRANSLATORS,
    )
    from cmner_build.baselines.data import detect_format, split_files
    from cmner_build.baselines.translate_corpus import direction_of, translate_export
    from cmner_build.baselines.translators import CommandTranslator, FileTranslator, MarianTranslator

    from ..console import info, progress_task
    from ..errors import CmnerError

    if translator not in TRANSLATORS:
        raise CmnerError(f"--translator must be one of {', '.join(TRANSLATORS)}, not {translator!r}")
    workspace = open_ws(ctx, create=True)
    source_language = LANGUAGE_OF_FORMAT[detect_format(split_files(export)["train"])]
    direction = direction_of(source_language, to)
    if translator == "command":
        if not command:
            raise CmnerError("--translator command needs --command 'PROGRAM ARGS'")
        engine = CommandTranslator(command)
        key = hashlib.sha256(command.encode("utf-8")).hexdigest()[:10]
    elif translator == "file":
        if translations is None:
            raise CmnerError("--translator file needs --translations FILE.jsonl")
        engine = FileTranslator(translations)
        key = None  # the file is the translation: nothing to cache
    else:
        name = model or MARIAN_MODELS.get(direction)
        if name is None:
            raise CmnerError(f"no default Marian model for {direction}; pass --model")
        engine = MarianTranslator(name, device=device or "auto",
                                  prefix=MARIAN_PREFIXES.get(direction, "") if prefix is None else prefix)
        key = re.sub(r"[^A-Za-z0-9.-]+", "_", name)[-60:]
    cache_path = cache
    if cache_path is None and key is not None:
        cache_path = workspace.root / "translations" / f"{direction}-{translator}-{key}.jsonl"
    output = output or workspace.exports_dir / f"{export.resolve().name}-{to}"
    report = translate_export(
        export, to, engine, output, cache_path=cache_path, batch_size=batch_size or TRANSLATE_BATCH_SIZE,
        progress=progress_task, log=info,
    )
    workspace.store.log_event("translate", "run", f"{export} -> {output}: {sum(report.kept.values())} posts kept",
                              direction=direction, translator=engine.name, rejected=report.rejected)
    if as_json:
        print_json(report.to_dict())
        return
    info(f"{direction}: {sum(report.kept.values())} of {sum(report.posts.values())} posts and "
         f"{report.entities_kept} of {report.entities} entities survived; {report.translated} strings translated, "
         f"{report.strings - report.translated} from the cache")
    for reason, count in report.reasons.items():
        info(f"  rejected, {reason}: {count}")
    info(f"written to {output} (rejected posts: {output / 'rejected.jsonl'})")
