"""The entry points of `cmner-build clean` and `cmner-build images`: a workspace and plain options in,
the report out. The CLI parses, calls one of these, and prints (clean/render.py).

`progress` is console.progress_task or alike: (description, total) -> a context yielding advance(n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from cmner_build.workspace import Workspace

from cmner_build.clean.settings import CleanOptions, ImageOptions
from cmner_build.progress import ProgressFactory, no_progress

if TYPE_CHECKING:  # the stage modules load when the work starts
    from cmner_build.clean.image_report import ImageReportSummary
    from cmner_build.clean.image_stage import ImagesReport
    from cmner_build.clean.post_cleaning import CleanReport
    from cmner_build.clean.privacy import GoldPrivacyReport




def text_rules(workspace: Workspace) -> list[dict[str, Any]]:
    """The text rules in effect, in order (`clean --list-rules`)."""
    from cmner_build.clean.text_rules import describe_rules

    return describe_rules(CleanOptions.from_settings(workspace.settings, workspace.root).rules)


def clean_workspace(workspace: Workspace, *, dry_run: bool = False, keep_one_per_group: bool = False,
                    samples: int = 5, progress: ProgressFactory | None = None) -> "CleanReport":
    """Clean the posts in scope with cmner.toml's [clean] settings (`keep_one_per_group` forces that one on)."""
    from cmner_build.clean.post_cleaning import clean_corpus, posts_in_scope

    options = CleanOptions.from_settings(workspace.settings, workspace.root)
    if keep_one_per_group:
        options.keep_one_per_group = True
    # A dry run writes nothing, not even a migration: it reads through a read-only connection.
    store = workspace.read_only_store() if dry_run else workspace.store
    try:
        with (progress or no_progress)("cleaning" if not dry_run else "cleaning (dry run)", posts_in_scope(store)) \
                as advance:
            return clean_corpus(store, options, dry_run=dry_run, samples=samples, progress=advance)
    finally:
        if dry_run:
            store.close()


def mask_gold(workspace: Workspace, *, dry_run: bool = False, allow: Sequence[str] = (),
              drop_entities: Sequence[str] = ()) -> "GoldPrivacyReport":
    """`clean --gold`: mask private data in gold posts with same-length masks (labels stay aligned)."""
    from cmner_build.clean.privacy import mask_gold_posts

    options = CleanOptions.from_settings(workspace.settings, workspace.root)
    store = workspace.read_only_store() if dry_run else workspace.store
    try:
        return mask_gold_posts(store, options.redact_kinds, dry_run=dry_run, allow=allow, drop_entities=drop_entities)
    finally:
        if dry_run:
            store.close()


@dataclass
class ImagesOutcome:
    result: "ImagesReport"
    report: "ImageReportSummary | None" = None  # when asked for


def check_images(workspace: Workspace, *, workers: int | None = None, recheck: bool = False, report: bool = False,
                 progress: ProgressFactory | None = None) -> ImagesOutcome:
    """Validate, filter and dedupe the images of cleaned posts; with `report`, write
    exports/images_report.html of what was dropped, and why."""
    from cmner_build.clean.image_pool import worker_pool
    from cmner_build.clean.image_stage import images_to_check, process_images

    options = ImageOptions.from_settings(workspace.settings)
    if workers is not None:
        options.workers = workers
    store = workspace.store
    count = images_to_check(store, recheck)
    # The pool first: its workers are forked before the progress bar starts a thread.
    with worker_pool(options, count) as pool, (progress or no_progress)("checking images", count) as advance:
        result = process_images(store, workspace.images_dir, options, progress=advance, recheck=recheck, pool=pool)
    summary = None
    if report:
        from cmner_build.clean.image_report import write_image_report

        summary = write_image_report(store, workspace.images_dir, workspace.exports_dir / "images_report.html")
    return ImagesOutcome(result, summary)
