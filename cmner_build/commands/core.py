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
    app.command(
        "export",
        epilog="Example: cmner-build -w my-corpus export --format jsonl   (posts keep their split; "
        "new posts are split 3:1:1)",
    )(export)
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
    take_file_splits: bool = typer.Option(
        False, "--take-file-splits", help="Posts already stored take the split their file gives (else they keep theirs)."
    ),
) -> None:
    """Import an existing release as gold posts (with their split and images).

    Every file and image name is checked before anything is created; the images are then checked like
    crawled ones (the images stage): only the ones it keeps are exported.
    """
    from ..console import info, progress_task, warn
    from ..importer import read_release, store_release

    release = read_release(paths, fmt, images_dir=images, strict=strict)  # a bad input creates nothing
    workspace = open_ws(ctx, create=True)
    with progress_task("importing", len(release.documents)) as advance:
        report = store_release(
            workspace.store, release, topics=workspace.settings.topics,
            workspace_images_dir=workspace.images_dir, take_file_splits=take_file_splits, progress=advance,
        )
    for message in report.warnings[:20]:
        warn(message)
    if len(report.warnings) > 20:
        warn(f"... and {len(report.warnings) - 20} more repairs")
    for message in report.images_refused:
        warn(f"image refused: {message}")
    splits = ", ".join(f"{name} {count}" for name, count in sorted(report.by_split.items()))
    info(
        f"imported {report.posts_added} posts ({splits or 'none new'}), {report.entities} entities, "
        f"{report.images_added} images; {report.posts_unchanged} already present and unchanged"
    )
    if report.split_differs:
        post_id, stored, file_split = report.split_differs[0]
        differs = (
            f"{len(report.split_differs)} posts already stored have another split than their file gives "
            f"(e.g. {post_id}: stored {stored or 'none'}, file {file_split})"
        )
        if report.splits_taken:
            info(f"{differs}: they now have the file's split")
        else:
            warn(f"{differs}: they keep the stored split; run the import again with --take-file-splits to take the file's")
    if images is not None:
        from cmner_build.clean.image_stage import check_imported_images, images_to_check

        with progress_task("checking images", images_to_check(workspace.store, imported_only=True)) as advance:
            checked = check_imported_images(workspace.store, workspace.images_dir, workspace.settings, advance)
        for file_name, reason, detail in checked.dropped_files:
            warn(f"image dropped: {file_name}: {reason}{f' ({detail})' if detail else ''}")
        info(f"images checked: {checked.checked}, kept {checked.kept}, dropped {checked.checked - checked.kept}")


def export(
    ctx: typer.Context,
    split: Optional[str] = typer.Option(None, "--split", help="train:dev:test ratio (default from cmner.toml, 3:1:1)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the split (default from cmner.toml)."),
    resplit: bool = typer.Option(
        False, "--resplit", help="Re-split every post, also those that already have a split (says how many move)."
    ),
    keep_splits: bool = typer.Option(False, "--keep-splits", hidden=True, help="The default now; accepted, no effect."),
    fmt: str = typer.Option("cmner", "--format", "-f", help="cmner, twitter2015, jsonl or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: <workspace>/exports/<format>)."),
    card: Optional[bool] = typer.Option(None, "--card/--no-card", help="Write the dataset card README.md "
                                        "(default: with --format parquet)."),
    parquet_images: str = typer.Option("embed", "--parquet-images", help="Parquet: embed the images as an Image "
                                       "feature, or paths (relative paths to the copied images/)."),
) -> None:
    """Write train / dev / test, stratified by topic and leak-free, with the images beside the text.

    Posts that already have a split (a release's, or an earlier export's) keep it; only posts without
    one are split at the ratio. --resplit re-splits everything.
    """
    from ..console import info, progress_task, warn
    from ..export import EXPORT_FORMATS, export_workspace

    if resplit and keep_splits:
        raise typer.BadParameter("--keep-splits (the default) contradicts --resplit; use one", param_hint="--resplit")
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    workspace = open_ws(ctx)
    report = export_workspace(workspace, ratio=split, seed=seed, resplit=resplit, fmt=fmt, out=out,
                              parquet_images=parquet_images, progress=progress_task)
    out_dir = report.out_dir
    if report.refused_posts:
        warn(f"{len(report.refused_posts)} gold posts left out: their id cannot be written in a release "
             f"(e.g. {report.refused_posts[0]!r})")
    if report.missing_images:
        warn(f"{len(report.missing_images)} kept images are not in {workspace.images_dir} (e.g. {report.missing_images[0]})")
    if report.groups_spread_over_splits:
        example = ", ".join(report.groups_spread_over_splits[0][:4])
        warn(
            f"{len(report.groups_spread_over_splits)} near-duplicate groups keep posts in different stored splits "
            f"(e.g. {example}): a leak, listed by `stats`; --resplit puts each group in one split"
        )
    counts = ", ".join(f"{name} {count}" for name, count in report.posts_by_split.items())
    info(f"exported {counts} to {out_dir} ({report.images_copied} images copied; "
         f"{report.groups_kept_together} duplicate groups kept within one split)")
    moved = f", {report.posts_moved} moved to another split (--resplit)" if resplit else ""
    info(f"splits: {report.posts_kept_split} posts kept their split, {report.posts_newly_assigned} newly assigned{moved}")
    if (split is not None or seed is not None) and not resplit and report.posts_newly_assigned == 0:
        info("--split / --seed apply only to posts without a split; --resplit re-splits every post")
    if card if card is not None else fmt == "parquet":
        from cmner_build.stats.card import card_settings, write_card

        settings = workspace.settings
        path = write_card(workspace.store, out_dir, card_settings(settings), files=report.files,
                          images=parquet_images, near_duplicate_jaccard=settings.near_duplicate_jaccard)
        info(f"dataset card: {path}")


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
