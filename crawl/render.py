"""The crawl's terminal output: a live progress line and the end summary (both on stderr)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from cmner_build.console import DataTable, err, make_progress

from cmner_build.crawl.summary import CrawlSummary


@contextmanager
def live_progress(description: str, total: int | None = None) -> Iterator[Callable[[CrawlSummary], None]]:
    """Yields a hook for CrawlSession: it redraws pages / kept / dropped by reason / images."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")

        def update(summary: CrawlSummary) -> None:
            completed = summary.images_downloaded + summary.images_failed if total is not None else summary.pages
            progress.update(task, completed=completed, status=summary.status_line())

        yield update


def render_summary(summary: CrawlSummary, title: str) -> None:
    table = DataTable(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("count")

    def counter_text(counter: dict) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(counter.items())) or "0"

    if summary.topics:
        table.add_row("topics", ", ".join(summary.topics))
    if summary.files_read or summary.files_skipped:
        table.add_row("archive files used", str(summary.files_read))
        table.add_row("archive files skipped", counter_text(summary.files_skipped))
    table.add_row("pages", str(summary.pages))
    if summary.requests:
        table.add_row("requests", str(summary.requests))
    if summary.faults:
        table.add_row("retried faults", counter_text(summary.faults))
    table.add_row("posts seen", str(summary.posts_seen))
    table.add_row("posts kept (new)", str(summary.posts_kept))
    table.add_row("already stored", str(summary.already_stored))
    table.add_row("dropped (stored as dropped)", counter_text(summary.dropped))
    if summary.skipped:
        table.add_row("not stored", counter_text(summary.skipped))
    table.add_row("long texts completed", str(summary.long_texts))
    table.add_row("pictures from detail pages", str(summary.detail_pages))
    table.add_row("images", f"{summary.images_downloaded} downloaded of {summary.images_found} found"
                  + (f", {summary.images_failed} gone (404)" if summary.images_failed else ""))
    if summary.images_pending:
        table.add_row("images still pending", f"{summary.images_pending} (fetch them with `crawl --download-images`)")
    if summary.images_bad:
        table.add_row("bodies that are no picture", counter_text(summary.images_bad)
                      + " (recorded on each image; see `images --report`)")
    for message in summary.rejected:
        table.add_row("rejected", message)
    for label, state in summary.queries.items():
        table.add_row(f"query {label}", state)
    if summary.over_max_chars is not None:
        table.add_row(
            f"crawled posts over {summary.max_chars} chars",
            f"{summary.over_max_chars} (kept for now: the clean stage drops those still over after its text rules)",
        )
    err.print(table)
