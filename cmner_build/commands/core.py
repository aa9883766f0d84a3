"""Core commands: init, import, export, stats."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import open_ws, print_json, workspace_root


def register(app: typer.Typer) -> None:
    app.command("init", epilog="Example: cmner-build init my-corpus")(init)
    app.command(
        "import",
        epilog="Example: cmner-build -w my-corpus import train.txt dev.txt --format cmner --images release/images",
    )(import_)
    app.command("export", epilog="Example: cmner-build -w my-corpus export --split 3:1:1 --seed 7 --format jsonl")(
        export
    )
    app.command("stats", epilog="Example: cmner-build -w my-corpus stats --json > stats.json")(stats)


def init(
    ctx: typer.Context,
    directory: Optional[Path] = typer.Argument(None, help="Folder to create (default: the --workspace folder)."),
) -> None:
    """Create a workspace: cmner.toml with commented defaults, corpus.db and the stage folders."""
    from ..console import info
    from ..workspace import default_workspace_root, init_workspace

    root = directory or workspace_root(ctx) or default_workspace_root()
    workspace, created = init_workspace(root)
    workspace.close()
    if created:
        info(f"workspace {root}: created {', '.join(created)}")
    else:
        info(f"workspace {root} already exists; nothing changed")


def import_(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., help="Release files; train/dev(valid)/test in the name set the split."),
    fmt: str = typer.Option("cmner", "--format", "-f", help="cmner (WID: lines) or twitter2015 (IMGID: lines)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of release images ({post_id}_*.jpg)."),
    strict: bool = typer.Option(False, "--strict", help="Treat an I- tag without its B- as an error, not a repair."),
) -> None:
    """Import an existing release as gold posts (with their split and images)."""
    from ..console import info, progress_task, warn
    from ..importer import import_release

    workspace = open_ws(ctx, create=True)
    with progress_task("importing", None) as advance:
        report = import_release(
            workspace.store, paths, fmt, topics=workspace.settings.topics, images_dir=images,
            workspace_images_dir=workspace.images_dir, strict=strict, progress=advance,
        )
    for message in report.warnings[:20]:
        warn(message)
    if len(report.warnings) > 20:
        warn(f"... and {len(report.warnings) - 20} more repairs")
    splits = ", ".join(f"{name} {count}" for name, count in sorted(report.by_split.items()))
    info(
        f"imported {report.posts_added} posts ({splits or 'none new'}), {report.entities} entities, "
        f"{report.images_added} images; {report.posts_unchanged} already present and unchanged"
    )


def export(
    ctx: typer.Context,
    split: Optional[str] = typer.Option(None, "--split", help="train:dev:test ratio (default from cmner.toml, 3:1:1)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the split (default from cmner.toml)."),
    keep_splits: bool = typer.Option(False, "--keep-splits", help="Keep the splits posts already have (a release's)."),
    fmt: str = typer.Option("cmner", "--format", "-f", help="cmner, twitter2015, jsonl or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: <workspace>/exports/<format>)."),
) -> None:
    """Write train / dev / test, stratified by topic and leak-free, with the images beside the text."""
    from ..console import info, progress_task, warn
    from ..export import EXPORT_FORMATS, export_workspace

    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    workspace = open_ws(ctx)
    report = export_workspace(workspace, ratio=split, seed=seed, keep_splits=keep_splits, fmt=fmt, out=out,
                              progress=progress_task)
    out_dir = report.out_dir
    if report.missing_images:
        warn(f"{len(report.missing_images)} kept images are not in {workspace.images_dir} (e.g. {report.missing_images[0]})")
    counts = ", ".join(f"{name} {count}" for name, count in report.posts_by_split.items())
    kept_together = "" if keep_splits else f"; {report.groups_kept_together} duplicate groups kept within one split"
    info(f"exported {counts} to {out_dir} ({report.images_copied} images copied{kept_together})")


def stats(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON instead of tables."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots to <workspace>/exports/."),
) -> None:
    """Print the paper's Table 1, topic / image / entity / length distributions and a split-leak audit."""
    from cmner_build.stats.corpus_stats import workspace_stats

    result = workspace_stats(open_ws(ctx), plots)
    if as_json:
        print_json(result)
    else:
        from cmner_build.stats.render import render_stats

        render_stats(result)
