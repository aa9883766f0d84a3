"""The three entry points the CLI (and notebooks) call; each takes a workspace and returns a summary.

    crawl_topics(workspace, plan)               online crawl (resumable)
    crawl_from_archive(workspace, source_dir)   re-parse recorded bodies, no network
    download_pending_images(workspace)          fetch the pictures still `pending`

Each holds the workspace's crawl lock, records an event, and fills `over_max_chars`. When a run stops
on an error (login redirect, persistent faults), the error carries the partial summary as `.summary`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from cmner_build.errors import CmnerError, FormatError
from cmner_build.workspace import Workspace

from cmner_build.crawl.crawler import CrawlPlan, Crawler, check_topic
from cmner_build.safety import stage_lock
from cmner_build.crawl.offline import import_archive
from cmner_build.crawl.record import over_limit_count, pending_images
from cmner_build.crawl.session import CrawlSession
from cmner_build.crawl.settings import CrawlSettings, crawl_settings
from cmner_build.crawl.summary import CrawlSummary

ProgressHook = Callable[[CrawlSummary], None]


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
