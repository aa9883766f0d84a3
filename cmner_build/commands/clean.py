"""Commands of the clean stage: `clean` (text) and `images` (validation, filters, dedupe)."""

from __future__ import annotations

from typing import Optional

import typer

from .common import open_ws, print_json


def register(app: typer.Typer) -> None:
    app.command(
        "clean",
        epilog="Example: cmner-build -w my-corpus clean --dry-run   (then: cmner-build -w my-corpus clean; "
               "for gold posts: cmner-build -w my-corpus clean --gold)",
    )(clean)
    app.command("images", epilog="Example: cmner-build -w my-corpus images --report")(images)


def clean(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show counts per rule and before/after samples; write nothing."),
    keep_one_per_group: bool = typer.Option(
        False, "--keep-one-per-group",
        help="Keep one post per near-duplicate group, drop the others as near_duplicate "
             "(or set clean.keep_one_per_group in cmner.toml to make it stick).",
    ),
    samples: int = typer.Option(5, "--samples", min=0, help="Before/after examples to show."),
    list_rules: bool = typer.Option(False, "--list-rules", help="List the text rules in effect, in order, and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    gold: bool = typer.Option(
        False, "--gold",
        help="Mask private data in gold posts (imported releases, adjudicated posts) instead: same-length "
             "masks tagged O, so labels stay aligned; hits on an entity are listed for you to decide.",
    ),
    allow_pii: list[str] = typer.Option(
        [], "--allow-pii", metavar="POST_ID",
        help="With --gold: the listed hits on an entity in this post are public (e.g. a shop's hotline); keep them.",
    ),
    drop_entity: list[str] = typer.Option(
        [], "--drop-entity", metavar="POST_ID",
        help="With --gold: mask the hits on an entity in this post anyway and drop the entity spans they touch.",
    ),
) -> None:
    """Clean crawled posts: text rules, privacy redaction, content filter, length limit, near-duplicate groups.

    Always works from the original text, so re-running changes nothing and a changed rule is applied
    from scratch. Posts already pushed to annotation are never modified; `--gold` masks private data in
    gold posts (export refuses gold posts that still hold some). `--dry-run` opens the store read-only.
    """
    from cmner_build.clean.entry import clean_workspace, text_rules
    from cmner_build.clean.render import render_clean_report, render_rules

    from ..console import progress_task

    workspace = open_ws(ctx)
    if list_rules:
        rows = text_rules(workspace)
        print_json(rows) if as_json else render_rules(rows)
        return
    if (allow_pii or drop_entity) and not gold:
        raise typer.BadParameter("only with --gold", param_hint="--allow-pii / --drop-entity")
    if gold:
        from cmner_build.clean.entry import mask_gold
        from cmner_build.clean.render import render_gold_privacy

        gold_report = mask_gold(workspace, dry_run=dry_run, allow=allow_pii, drop_entities=drop_entity)
        print_json(gold_report.as_dict()) if as_json else render_gold_privacy(gold_report)
        return
    report = clean_workspace(workspace, dry_run=dry_run, keep_one_per_group=keep_one_per_group, samples=samples,
                             progress=progress_task)
    if as_json:
        print_json(report.as_dict())
    else:
        render_clean_report(report)


def images(
    ctx: typer.Context,
    report: bool = typer.Option(False, "--report", help="Write exports/images_report.html (thumbnails of what was dropped, and why) and list the drops."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Processes for decoding (default images.workers; 0 = all cores)."),
    recheck: bool = typer.Option(False, "--recheck", help="Decide every image of cleaned / ready posts again (after changing [images] settings)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate, filter and dedupe the downloaded images of cleaned posts; posts with a kept image become ready."""
    from cmner_build.clean.entry import check_images
    from cmner_build.clean.render import render_image_report, render_images_result

    from ..console import progress_task

    outcome = check_images(open_ws(ctx), workers=workers, recheck=recheck, report=report, progress=progress_task)
    result, summary = outcome.result, outcome.report
    output: dict = {"images": result.as_dict()}
    if summary is not None:
        from cmner_build.clean.image_report import summary_rows

        output["report"] = {"path": str(summary.path), "by_reason": summary.by_reason, "dropped": summary_rows(summary)}
    if as_json:
        print_json(output)
        return
    render_images_result(result)
    if summary is not None:
        render_image_report(summary)
