"""`cmner-build crawl`: parses the options, calls crawl/run.py's `run_crawl`, prints the summary."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import print_json, workspace_root

EPILOG = (
    "Example: cmner-build -w corpus crawl --topic 体育 --limit 200   "
    "(offline: cmner-build -w corpus crawl --from-archive recorded/ ; pictures later: crawl --download-images)"
)


def register(app: typer.Typer) -> None:
    app.command("crawl", epilog=EPILOG)(crawl)


def crawl(
    ctx: typer.Context,
    topic: Optional[List[str]] = typer.Option(
        None, "--topic", "-t", help="Hashtag topic to crawl (#T#); repeat for several. Default: corpus.topics."
    ),
    limit: Optional[int] = typer.Option(
        None, "--limit", min=1, help="Stop once the store holds this many eligible crawled posts of the topic."
    ),
    pages: Optional[int] = typer.Option(
        None, "--pages", min=1, help="At most this many result pages per query (topic page, search), in total."
    ),
    since: Optional[str] = typer.Option(None, "--since", help="Keep posts published on or after this day (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Keep posts published on or before this day (YYYY-MM-DD)."),
    container: str = typer.Option(
        "both", "--container", help="Which result lists: topic (the hashtag page), search, or both."
    ),
    restart: bool = typer.Option(
        False, "--restart", help="Start the topic's queries from the first page again (stored posts are not duplicated)."
    ),
    images: bool = typer.Option(True, "--images/--no-images", help="Download each kept post's pictures as it is stored."),
    from_archive: Optional[Path] = typer.Option(
        None, "--from-archive", help="Re-parse recorded response bodies in this folder instead of using the network."
    ),
    download_images: bool = typer.Option(
        False, "--download-images", help="Only fetch the pictures still pending (e.g. after --from-archive)."
    ),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="Base URL instead of https://m.weibo.cn."),
    image_base: Optional[str] = typer.Option(None, "--image-base", help="Fetch pictures as <image-base>/<host>/<path>."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout."),
) -> None:
    """Collect topic-tagged Weibo posts with all their pictures: resumable, polite, archived."""
    from cmner_build.errors import CmnerError

    from cmner_build.crawl.render import render_summary
    from cmner_build.crawl.run import CrawlRequest, run_crawl

    request = CrawlRequest(
        topics=list(topic or []), limit=limit, pages=pages, since=since, until=until, container=container,
        restart=restart, images=images, from_archive=from_archive, download_images=download_images,
        api_base=api_base, image_base=image_base,
    )
    try:
        title, summary = run_crawl(workspace_root(ctx), request)
    except CmnerError as error:
        partial = getattr(error, "summary", None)
        if partial is not None:
            render_summary(partial, "stopped; what was done is kept")
        raise
    render_summary(summary, title)
    if as_json:
        print_json(summary.to_dict())
