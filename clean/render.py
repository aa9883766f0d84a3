"""Rich tables for `cmner-build clean` and `cmner-build images` (results on stdout, notes on stderr)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from cmner_build.console import DataTable, err, info, out, warn

from cmner_build.clean.image_report import ImageReportSummary
from cmner_build.clean.image_stage import ImagesReport
from cmner_build.clean.post_cleaning import CleanReport
from cmner_build.clean.privacy import GoldPrivacyReport

SCREEN_ROWS = 30


def render_rules(rows: list[dict[str, Any]]) -> None:
    table = DataTable(title="Text rules, in the order they run (then redaction, content filter, length)")
    table.add_column("#", justify="right")
    table.add_column("name", no_wrap=True)
    table.add_column("on", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("pattern → replacement", overflow="fold")
    table.add_column("what", overflow="fold")
    for number, row in enumerate(rows, start=1):
        table.add_row(str(number), row["name"], "yes" if row["enabled"] else "no",
                      "built-in" if row["builtin"] else "cmner.toml",
                      f"{row['pattern']} → {row['replacement']!r}", row["description"])
    out.print(table, markup=False)


def render_clean_report(report: CleanReport) -> None:
    title = "Dry run: nothing written" if report.dry_run else "clean"
    table = DataTable(title=f"{title}: {report.posts_in_scope:,} posts, {report.texts_changed:,} texts changed")
    table.add_column("rule")
    table.add_column("posts", justify="right")
    table.add_column("changes", justify="right")
    for rule, totals in report.rules.items():
        table.add_row(rule, f"{totals['posts']:,}", f"{totals['changes']:,}")
    out.print(table)
    table = DataTable(title="Posts after cleaning")
    table.add_column("status / drop reason")
    table.add_column("posts", justify="right")
    for status, count in sorted(report.statuses.items()):
        table.add_row(status, f"{count:,}")
    for reason, count in sorted(report.dropped.items()):
        table.add_row(f"  dropped: {reason}", f"{count:,}")
    out.print(table)
    out.print(f"near-duplicate groups: {report.duplicate_groups:,} ({report.posts_in_duplicate_groups:,} posts)")
    for sample in report.samples:
        rules = ", ".join(f"{name} ×{count}" for name, count in sample["rules"].items()) or "no rule"
        dropped = f"; dropped: {sample['drop_reason']}" if sample["drop_reason"] else ""
        out.print(f"[bold]{escape(sample['post_id'])}[/bold] ({escape(rules + dropped)})")
        out.print(f"  before: {sample['before']}", markup=False)
        out.print(f"  after:  {sample['after']}", markup=False)
    if report.restored:
        info(f"{len(report.restored)} posts dropped by an earlier run are kept now: {', '.join(report.restored[:10])}")
    if report.frozen_would_change:
        ids = ", ".join(report.frozen_would_change[:10])
        warn(f"{len(report.frozen_would_change)} posts already pushed to annotation would get another text under the "
             f"current rules; they are left as they are: {ids}")
    if report.gold_with_private_data:
        warn(f"{len(report.gold_with_private_data)} gold posts hold private data and export refuses them; mask it "
             f"with `clean --gold`: {', '.join(report.gold_with_private_data[:10])}")
    if report.dry_run:
        info(f"dry run: {report.posts_changed:,} post records would be updated; run without --dry-run to write")
    elif report.posts_changed:
        # Counts records written (text, status or drop reason), which can exceed the texts changed above.
        info(f"{report.posts_changed:,} post records updated (text, status or drop reason)")
    else:
        info("0 post records updated (nothing to do)")


def render_gold_privacy(report: GoldPrivacyReport) -> None:
    title = "Dry run: nothing written" if report.dry_run else "clean --gold"
    table = DataTable(title=f"{title}: {report.posts_checked:,} gold posts, {len(report.posts_masked):,} masked")
    table.add_column("kind")
    table.add_column("hits masked", justify="right")
    for kind, count in sorted(report.masked.items()):
        table.add_row(kind, f"{count:,}")
    out.print(table)
    for dropped in report.entities_dropped:
        out.print(f"  {dropped['post_id']}: entity {dropped['label']} {dropped['text']!r} dropped", markup=False)
    if report.allowed:
        info(f"{len(report.allowed)} hits are declared public and kept "
             f"(posts {', '.join(sorted({row['post_id'] for row in report.allowed})[:10])})")
    if report.conflicts:
        warn(f"{len(report.conflicts)} hits overlap an entity and were left for you to decide; export refuses "
             "these posts until then:")
        for row in report.conflicts[:SCREEN_ROWS]:
            out.print(f"  {row['post_id']}: {row['kind']} {row['value']!r} inside {row['entity']} "
                      f"{row['entity_text']!r}", markup=False)
        err.print("decide with `clean --gold --allow-pii POST_ID` (public, keep it) or "
                  "`clean --gold --drop-entity POST_ID` (mask it, drop the entity)", markup=False, highlight=False)
    if report.dry_run:
        info(f"dry run: {len(report.posts_masked):,} gold posts would be masked; run without --dry-run to write")


def render_images_result(report: ImagesReport) -> None:
    table = DataTable(title=f"images: {report.checked:,} checked ({report.workers} process(es)), {report.kept:,} kept")
    table.add_column("dropped because")
    table.add_column("images", justify="right")
    for reason, count in sorted(report.dropped.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(reason, f"{count:,}")
    out.print(table)
    info(f"posts ready for annotation: {len(report.posts_ready):,}")
    for reason, ids in report.posts_dropped.items():
        info(f"posts dropped ({reason}): {len(ids):,}: {', '.join(ids[:10])}{' …' if len(ids) > 10 else ''}")
    if report.posts_waiting:
        warn(f"{len(report.posts_waiting)} cleaned posts still have images to download and stay 'cleaned': "
             f"{', '.join(report.posts_waiting[:10])}")
    if report.images_of_uncleaned_posts:
        warn(f"{report.images_of_uncleaned_posts} downloaded images belong to posts not cleaned yet: run `clean` first")


def render_image_report(summary: ImageReportSummary) -> None:
    table = DataTable(title=f"Dropped images ({len(summary.dropped):,} in the workspace)")
    for column in ("file", "post", "reason", "detail"):
        table.add_column(column, overflow="fold")
    for image in summary.dropped[:SCREEN_ROWS]:
        table.add_row(escape(image.file_name or "(no file)"), escape(image.post_id), image.reason, escape(image.detail))
    out.print(table)
    if len(summary.dropped) > SCREEN_ROWS:
        info(f"... {len(summary.dropped) - SCREEN_ROWS} more in the report")
    # soft_wrap: a path the user will copy must not be broken over two lines.
    err.print(f"report with thumbnails: {summary.path}", soft_wrap=True, markup=False, highlight=False)
