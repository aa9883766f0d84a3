"""Commands of the crawl stage (issue 3): registered on the app by `register`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from .common import print_json, workspace_root

if TYPE_CHECKING:  # imported lazily at run time, so that `cmner-build --help` stays fast
    from cmner_build.crawl.summary import CrawlSummary
    from cmner_build.workspace import Workspace

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

    from cmner_build.crawl.crawler import check_topic
    from cmner_build.crawl.dates import parse_day
    from cmner_build.crawl.display import render_summary
    from cmner_build.workspace import workspace_for_run

    if from_archive is not None and download_images:
        raise CmnerError("--from-archive and --download-images are separate runs; use one at a time")
    if from_archive is not None or download_images:
        mode = "--from-archive" if from_archive is not None else "--download-images"
        online_only = {"--limit": limit is not None, "--pages": pages is not None, "--since": since is not None,
                       "--until": until is not None, "--restart": restart, "--no-images": not images,
                       "--container": container != "both"}
        if download_images:
            online_only["--topic"] = bool(topic)
        misplaced = [name for name, given in online_only.items() if given]
        if misplaced:
            raise CmnerError(f"{', '.join(misplaced)}: only for the online crawl, not with {mode}")
        if topic and len(topic) > 1:
            raise CmnerError("--from-archive takes at most one --topic (it keeps only that topic's bodies)")
    if container not in ("both", "topic", "search"):
        raise CmnerError(f"--container must be topic, search or both, not {container!r}")
    days = {}
    for name, value in (("--since", since), ("--until", until)):
        if value is not None:
            try:
                days[name] = parse_day(value)
            except ValueError:
                raise CmnerError(f"{name} {value!r} is not a day in the form YYYY-MM-DD") from None
    if "--since" in days and "--until" in days and days["--since"] > days["--until"]:
        raise CmnerError("--since is after --until: no post can match")

    for name in topic or ():
        check_topic(name)
    # A missing workspace is created for the run, and removed again when the run fails storing nothing.
    with workspace_for_run(workspace_root(ctx)) as workspace:
        summary, title = _run(workspace, topic, limit, pages, days, container, restart, images, from_archive,
                              download_images, api_base, image_base)
    render_summary(summary, title)
    if as_json:
        print_json(summary.to_dict())


def _run(workspace: "Workspace", topic: Optional[List[str]], limit: Optional[int], pages: Optional[int],  # noqa: PLR0913
         days: "dict[str, date]", container: str, restart: bool, images: bool, from_archive: Optional[Path],
         download_images: bool, api_base: Optional[str], image_base: Optional[str]) -> "tuple[CrawlSummary, str]":
    """The run itself, on a workspace that exists: the options of `crawl` as parsed and checked above."""
    from cmner_build.errors import CmnerError

    from cmner_build.crawl.display import live_progress, render_summary
    from cmner_build.crawl.run import crawl_from_archive, crawl_topics, download_pending_images
    from cmner_build.crawl.settings import crawl_settings

    settings = crawl_settings(workspace.settings).with_overrides(
        api_base=api_base.rstrip("/") if api_base else None,
        image_base=image_base.rstrip("/") if image_base else None,
    )
    try:
        if from_archive is not None:
            title = f"crawl --from-archive {from_archive}"
            with live_progress("reading archive") as hook:
                summary = crawl_from_archive(workspace, from_archive, topic=topic[0] if topic else None,
                                             settings=settings, on_progress=hook)
        elif download_images:
            title = "crawl --download-images"
            from cmner_build.crawl.record import pending_images

            with live_progress("downloading", total=len(pending_images(workspace.store))) as hook:
                summary = download_pending_images(workspace, settings=settings, on_progress=hook)
        else:
            from cmner_build.crawl.crawler import CrawlPlan

            topics = topic or workspace.settings.topics
            _warn_without_cookie(settings)
            title = f"crawl {', '.join(topics)}"
            plan = CrawlPlan(
                topics=topics, limit=limit, pages=pages, since=days.get("--since"), until=days.get("--until"),
                containers=settings.containers if container == "both" else (container,),
                restart=restart, download_images=images,
            )
            with live_progress(f"crawling {', '.join(topics)}") as hook:
                summary = crawl_topics(workspace, plan, settings=settings, on_progress=hook)
    except CmnerError as error:
        partial = getattr(error, "summary", None)
        if partial is not None:
            render_summary(partial, "stopped; what was done is kept")
        raise
    return summary, title


def _warn_without_cookie(settings) -> None:  # noqa: ANN001 - CrawlSettings, imported lazily
    from cmner_build.console import warn

    if settings.cookie() is None:
        warn(
            f"${settings.cookie_env} is not set: m.weibo.cn throttles requests without a login cookie "
            "(HTTP 432/418); see docs/crawl.md for how to set it"
        )
