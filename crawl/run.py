"""The three entry points the CLI (and notebooks) call; each takes a workspace and returns a summary.

    crawl_topics(workspace, plan)               online crawl (resumable)
    crawl_from_archive(workspace, source_dir)   re-parse recorded bodies, no network
    download_pending_images(workspace)          fetch the pictures still `pending`

Each holds the workspace's crawl lock, records an event, and fills `over_max_chars`. When a run stops
on an error (login redirect, persistent faults), the error carries the partial summary as `.summary`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from cmner_build.errors import CmnerError, FormatError
from cmner_build.workspace import Workspace, workspace_for_run

from cmner_build.crawl.crawler import CrawlPlan, Crawler, check_topic
from cmner_build.safety import stage_lock
from cmner_build.crawl.offline import import_archive
from cmner_build.crawl.record import over_limit_count, pending_images
from cmner_build.crawl.session import CrawlSession
from cmner_build.crawl.settings import CrawlSettings, crawl_settings
from cmner_build.crawl.summary import CrawlSummary

ProgressHook = Callable[[CrawlSummary], None]


@dataclass
class CrawlRequest:
    """The options of `cmner-build crawl`, as given (None / default: not given)."""

    topics: list[str] = field(default_factory=list)  # [] = corpus.topics
    limit: int | None = None
    pages: int | None = None
    since: str | None = None  # YYYY-MM-DD
    until: str | None = None
    container: str = "both"  # topic, search or both
    restart: bool = False
    images: bool = True
    from_archive: Path | None = None
    download_images: bool = False
    api_base: str | None = None
    image_base: str | None = None


@contextmanager
def _session(
    workspace: Workspace,
    settings: CrawlSettings | None,
    on_progress: ProgressHook | None,
    environ: Mapping[str, str] | None,
    what: str,
    details: dict[str, Any],
) -> Iterator[CrawlSession]:
    settings = settings or crawl_settings(workspace.settings, environ)
    with stage_lock(workspace.root, "crawl"):
        session = CrawlSession(
            workspace.store, workspace.archive_dir, workspace.images_dir, settings,
            environ=dict(environ) if environ is not None else None, on_progress=on_progress,
        )
        try:
            yield session
        except CmnerError as error:
            _finish(session, settings)
            workspace.store.log_event("crawl", "stopped", f"{what} stopped: {error}", **details,
                                      summary=session.summary.to_dict())
            error.summary = session.summary  # type: ignore[attr-defined]
            raise
        finally:
            session.close()
        _finish(session, settings)
        workspace.store.log_event(
            "crawl", "done", f"{what}: {session.summary.posts_kept} posts kept", **details,
            summary=session.summary.to_dict(),
        )


def _finish(session: CrawlSession, settings: CrawlSettings) -> None:
    session.summary.over_max_chars = over_limit_count(session.store, settings.max_chars)
    session.summary.max_chars = settings.max_chars
    session.summary.images_pending = len(pending_images(session.store))
    session.report()


def crawl_topics(
    workspace: Workspace,
    plan: CrawlPlan,
    *,
    settings: CrawlSettings | None = None,
    on_progress: ProgressHook | None = None,
    environ: Mapping[str, str] | None = None,
) -> CrawlSummary:
    for topic in plan.topics:
        check_topic(topic)
    details = {"topics": list(plan.topics), "limit": plan.limit, "pages": plan.pages}
    with _session(workspace, settings, on_progress, environ, "crawl", details) as session:
        Crawler(session).run(plan)
    return session.summary


def crawl_from_archive(
    workspace: Workspace,
    source: Path,
    *,
    topic: str | None = None,
    settings: CrawlSettings | None = None,
    on_progress: ProgressHook | None = None,
) -> CrawlSummary:
    source = Path(source)
    if not source.is_dir():
        raise FormatError("archive folder not found", source)
    if topic is not None:
        check_topic(topic)
    details = {"source": str(source), "topic": topic}
    with _session(workspace, settings, on_progress, None, "crawl --from-archive", details) as session:
        import_archive(session, source, topic=topic)
    return session.summary


def download_pending_images(
    workspace: Workspace,
    *,
    settings: CrawlSettings | None = None,
    on_progress: ProgressHook | None = None,
    environ: Mapping[str, str] | None = None,
) -> CrawlSummary:
    with _session(workspace, settings, on_progress, environ, "crawl --download-images", {}) as session:
        rows = pending_images(session.store)
        session.summary.images_found = len(rows)
        for row in rows:
            session.download_image(row)
            session.report()
    return session.summary


def run_crawl(workspace_root: Path | None, request: CrawlRequest) -> tuple[str, CrawlSummary]:
    """`cmner-build crawl`: check the options, open (or create) the workspace, and run the mode they
    choose: the online crawl, `from_archive`, or `download_images`. Returns (title, summary)."""
    from cmner_build.crawl.crawler import check_topic
    from cmner_build.crawl.dates import parse_day
    from cmner_build.crawl.render import live_progress

    topic, from_archive, download_images = request.topics, request.from_archive, request.download_images
    if from_archive is not None and download_images:
        raise CmnerError("--from-archive and --download-images are separate runs; use one at a time")
    if from_archive is not None or download_images:
        mode = "--from-archive" if from_archive is not None else "--download-images"
        online_only = {"--limit": request.limit is not None, "--pages": request.pages is not None,
                       "--since": request.since is not None, "--until": request.until is not None,
                       "--restart": request.restart, "--no-images": not request.images,
                       "--container": request.container != "both"}
        if download_images:
            online_only["--topic"] = bool(topic)
        misplaced = [name for name, given in online_only.items() if given]
        if misplaced:
            raise CmnerError(f"{', '.join(misplaced)}: only for the online crawl, not with {mode}")
        if topic and len(topic) > 1:
            raise CmnerError("--from-archive takes at most one --topic (it keeps only that topic's bodies)")
    if request.container not in ("both", "topic", "search"):
        raise CmnerError(f"--container must be topic, search or both, not {request.container!r}")
    days = {}
    for name, value in (("--since", request.since), ("--until", request.until)):
        if value is not None:
            try:
                days[name] = parse_day(value)
            except ValueError:
                raise CmnerError(f"{name} {value!r} is not a day in the form YYYY-MM-DD") from None
    if "--since" in days and "--until" in days and days["--since"] > days["--until"]:
        raise CmnerError("--since is after --until: no post can match")

    for name in topic:
        check_topic(name)
    # A missing workspace is created for the run, and removed again when the run fails storing nothing.
    with workspace_for_run(workspace_root) as workspace:
        settings = crawl_settings(workspace.settings).with_overrides(
            api_base=request.api_base.rstrip("/") if request.api_base else None,
            image_base=request.image_base.rstrip("/") if request.image_base else None,
        )
        if from_archive is not None:
            title = f"crawl --from-archive {from_archive}"
            with live_progress("reading archive") as hook:
                summary = crawl_from_archive(workspace, from_archive, topic=topic[0] if topic else None,
                                             settings=settings, on_progress=hook)
        elif download_images:
            title = "crawl --download-images"
            with live_progress("downloading", total=len(pending_images(workspace.store))) as hook:
                summary = download_pending_images(workspace, settings=settings, on_progress=hook)
        else:
            topics = topic or workspace.settings.topics
            _warn_without_cookie(settings)
            title = f"crawl {', '.join(topics)}"
            plan = CrawlPlan(
                topics=topics, limit=request.limit, pages=request.pages, since=days.get("--since"),
                until=days.get("--until"),
                containers=settings.containers if request.container == "both" else (request.container,),
                restart=request.restart, download_images=request.images,
            )
            with live_progress(f"crawling {', '.join(topics)}") as hook:
                summary = crawl_topics(workspace, plan, settings=settings, on_progress=hook)
    return title, summary


def _warn_without_cookie(settings: CrawlSettings) -> None:
    from cmner_build.console import warn

    if settings.cookie() is None:
        warn(
            f"${settings.cookie_env} is not set: m.weibo.cn throttles requests without a login cookie "
            "(HTTP 432/418); see docs/crawl.md for how to set it"
        )
