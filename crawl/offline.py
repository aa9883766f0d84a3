"""`crawl --from-archive DIR`: re-parse recorded response bodies without the network.

DIR holds one body per file, any names, in any folders: getIndex pages, statuses/extend bodies and
detail pages (`$render_data`). An `index.jsonl` (the workspace archive's own, see archive.py) gives
each file's URL and fetch time; without it the kind of a body is read from its content.

  * topic: from the getIndex URL's or body's containerid (`…q=#体育#`); `--topic T` keeps only bodies
    of T and gives T to bodies that name no topic;
  * a long text is matched to its post by the id in its URL or file name, else by the truncated
    text it completes; a long post with no match is not stored (counted `long_text_missing`);
  * picture bytes: `DIR/images/<pid>.<ext>` (the picture id is the URL's file name); pictures whose
    bytes are not there stay `pending` until `crawl --download-images`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cmner_build.crawl import state
from cmner_build.crawl.archive import IMAGES_SUBDIR, INDEX_NAME, parse_at, read_index
from cmner_build.crawl.crawler import complete_text
from cmner_build.crawl.endpoints import container_kind_of, describe_url, id_in_name, topic_of_containerid
from cmner_build.crawl.html_text import flatten_html
from cmner_build.crawl.images import find_archived_image
from cmner_build.crawl.parse import (
    IndexPage,
    InvalidPostId,
    ParsedPost,
    ParseError,
    decode_json,
    image_pid,
    is_captcha,
    mblog_image_urls,
    parse_detail,
    parse_index,
    parse_mblog,
)
from cmner_build.crawl.record import needs_completion, pending_images, record_post
from cmner_build.crawl.session import CrawlSession
from cmner_build.safety import name_problem

MIN_PREFIX = 10  # characters of truncated text needed to match a long text by content
_SPACE = re.compile(r"\s+")


@dataclass
class RecordedPage:
    file: str
    url: str | None
    page: IndexPage
    fetched_at: datetime
    topic: str | None
    container: str | None


@dataclass
class ArchiveContents:
    pages: list[RecordedPage] = field(default_factory=list)
    long_texts: dict[str, str] = field(default_factory=dict)  # post id (mid or bid) -> long text HTML
    # every long text as (text without spaces, HTML): for matching by the truncated text it completes
    long_texts_by_content: list[tuple[str, str]] = field(default_factory=list)
    files_used: int = 0
    details: dict[str, dict] = field(default_factory=dict)  # mid / bid -> detail status


def read_archive(source: Path, summary_skips: Any) -> ArchiveContents:
    """Classify every body under `source` (its images/ folder aside)."""
    index = read_index(source)
    contents = ArchiveContents()
    files = sorted(
        path for path in source.rglob("*")
        if path.is_file() and not path.is_symlink() and path.name != INDEX_NAME  # links may point anywhere
        and path.relative_to(source).parts[0] != IMAGES_SUBDIR
        and not any(part.startswith(".") for part in path.relative_to(source).parts)  # .partial/, .lock files
    )
    for path in files:
        relative = path.relative_to(source).as_posix()
        record = index.get(relative, {})
        url = record.get("url") if isinstance(record.get("url"), str) else None
        fetched_at = parse_at(record.get("at")) or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        described = describe_url(url) if url else {"kind": None, "containerid": None, "id": None}
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            summary_skips["not_text"] += 1
            continue
        if "$render_data" in text:
            try:
                status = parse_detail(text)
            except ParseError:
                summary_skips["bad_detail"] += 1
                continue
            for key in {described["id"], id_in_name(path.name), str(status.get("mid") or ""), str(status.get("id") or ""),
                        str(status.get("bid") or "")}:
                if key:
                    contents.details[key] = status
            contents.files_used += 1
            continue
        try:
            data = decode_json(text)
        except ParseError:
            summary_skips["not_json"] += 1
            continue
        if is_captcha(data):
            summary_skips["captcha"] += 1
            continue
        body = data.get("data") if isinstance(data, dict) else None
        if isinstance(body, dict) and isinstance(body.get("longTextContent"), str):
            key = described["id"] or id_in_name(path.name)
            if key:
                contents.long_texts[key] = body["longTextContent"]
            squashed = _SPACE.sub("", flatten_html(body["longTextContent"]).text)
            contents.long_texts_by_content.append((squashed, body["longTextContent"]))
            contents.files_used += 1
            continue
        if isinstance(data, dict) and "ok" in data and (
            isinstance(body, dict) and ("cards" in body or "cardlistInfo" in body) or data.get("ok") in (0, "0")
        ):
            try:
                page = parse_index(data)
            except ParseError:
                summary_skips["not_index"] += 1
                continue
            if page.ok != 1 and not page.is_end_reply:
                summary_skips["error_reply"] += 1
                continue
            containerid = described["containerid"] or page.containerid
            contents.pages.append(
                RecordedPage(relative, url, page, fetched_at, topic_of_containerid(containerid), container_kind_of(containerid))
            )
            contents.files_used += 1
            continue
        summary_skips["unknown"] += 1
    return contents


def import_archive(session: CrawlSession, source: Path, *, topic: str | None = None) -> None:
    source = Path(source)
    summary = session.summary
    contents = read_archive(source, summary.files_skipped)
    summary.files_read = contents.files_used
    topics_seen: list[str] = []
    for recorded in contents.pages:
        if not recorded.page.mblogs:  # an end reply or an empty page: nothing to place under a topic
            summary.pages += 1
            continue
        page_topic = recorded.topic or topic
        if page_topic is None:
            summary.files_skipped["unknown_topic"] += 1
            continue
        problem = name_problem(page_topic)
        if problem is not None:
            session.reject("bad_topic", f"{recorded.file}: topic {page_topic!r} {problem}; page skipped", files=True)
            continue
        if topic is not None and recorded.topic is not None and recorded.topic != topic:
            summary.files_skipped["other_topic"] += 1
            continue
        if page_topic not in topics_seen:
            topics_seen.append(page_topic)
        summary.pages += 1
        for mblog in recorded.page.mblogs:
            _import_post(session, contents, mblog, page_topic, recorded)
            session.report()
    summary.topics = topics_seen
    archived_images = source / IMAGES_SUBDIR
    for row in pending_images(session.store):
        found = find_archived_image(archived_images, image_pid(row["url"]))
        if found is not None:
            session.adopt_archived_image(row, found)
    session.report()


def _import_post(session: CrawlSession, contents: ArchiveContents, mblog: dict[str, Any], topic: str,
                 recorded: RecordedPage) -> None:
    summary = session.summary
    summary.posts_seen += 1
    try:
        post = parse_mblog(mblog, now=recorded.fetched_at)
    except InvalidPostId as error:
        session.reject("invalid_id", f"{recorded.file}: post dropped: {error}")
        return
    except ParseError:
        summary.skipped["unparseable"] += 1
        return
    if state.seen_post(session.store, post.mid, post.post_id):
        summary.already_stored += 1
        return
    extra: dict[str, Any] = {"archive_file": recorded.file}
    if needs_completion(post):
        if post.needs_long_text:
            long_html = _find_long_text(contents, post)
            if long_html is None:
                summary.skipped["long_text_missing"] += 1
                return
            complete_text(post, long_html)
            summary.long_texts += 1
        if post.needs_detail:
            status = next((contents.details[key] for key in (post.mid, post.post_id) if key in contents.details), None)
            if status is not None:
                urls = mblog_image_urls(status)
                if len(urls) > len(post.image_urls):
                    post.image_urls = urls
                    summary.detail_pages += 1
            missing = post.pic_num - len(post.image_urls)
            if missing > 0:
                extra["images_missing"] = missing
    reason, image_ids = record_post(
        session.store, post, topic=topic, container=recorded.container, query_id=None,
        fetched_at=recorded.fetched_at, extra_meta=extra,
    )
    if reason:
        summary.dropped[reason] += 1
    else:
        summary.posts_kept += 1
        summary.images_found += len(image_ids)


def _find_long_text(contents: ArchiveContents, post: ParsedPost) -> str | None:
    flat_id = flatten_html(post.html).status_id
    for key in (post.mid, post.post_id, flat_id):
        if key and key in contents.long_texts:
            return contents.long_texts[key]
    prefix = _SPACE.sub("", post.text)
    if len(prefix) < MIN_PREFIX:
        return None
    candidates = [html for squashed, html in contents.long_texts_by_content if squashed.startswith(prefix)]
    return candidates[0] if len(candidates) == 1 else None
