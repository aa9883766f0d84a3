"""The online crawl of one or more hashtag topics from m.weibo.cn.

For each topic and container (the topic page `231522type=1&t=10&q=#T#`, then search
`100103type=1&q=#T#`), page by page from the stored cursor:

  1. the getIndex page: read back from the archive if this query generation already got it, else
     requested, archived and logged; the paging mode (page / since_id) follows what the reply carries;
  2. each post not seen before (by mid and bid): long text from statuses/extend, more than nine
     pictures from the detail page, then stored with its pictures (one transaction) and, when kept,
     its pictures downloaded at once;
  3. the cursor advances (next page, since_id, or done) only after the whole page is stored.

An `ok:0` "这里还没有内容" reply, a last page without a next cursor, or a repeated cursor ends a query;
an error never does (it is retried, then the run stops and the next run resumes at the same page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence

from cmner_build.crawl import state
from cmner_build.crawl.endpoints import containerid_for, detail_url, extend_url, index_url
from cmner_build.crawl.fetch import CrawlBlocked, Fault, Gone
from cmner_build.crawl.html_text import flatten_html
from cmner_build.crawl.parse import (
    IndexPage,
    InvalidPostId,
    ParsedPost,
    ParseError,
    decode_json,
    is_captcha,
    mblog_image_urls,
    parse_detail,
    parse_extend,
    parse_index,
    parse_mblog,
)
from cmner_build.crawl.record import needs_completion, pending_images, record_post
from cmner_build.crawl.session import CrawlSession
from cmner_build.safety import check_name


@dataclass(frozen=True)
class CrawlPlan:
    topics: Sequence[str]
    limit: int | None = None  # stop once this many eligible posts of the topic are stored (in total)
    pages: int | None = None  # at most this many pages per query (in total, across runs)
    since: date | None = None
    until: date | None = None
    containers: Sequence[str] = ("topic", "search")
    restart: bool = False
    download_images: bool = True


# -- validators: body -> (outcome, value) or Fault --------------------------------------------------


def _json_reply(body: bytes) -> Any:
    """The decoded body, or a Fault for a non-JSON / truncated body or a captcha reply."""
    try:
        data = decode_json(body)
    except ParseError as error:
        raise Fault("not_json", str(error)) from None
    if is_captcha(data):
        raise Fault("captcha")
    return data


def validate_index(body: bytes) -> tuple[str, IndexPage]:
    data = _json_reply(body)
    try:
        page = parse_index(data)
    except ParseError as error:
        raise Fault("not_index", str(error)) from None
    if page.is_end_reply:
        return "end", page
    if page.ok != 1:
        raise Fault("ok_0", str(page.msg or ""))
    return "ok", page


def validate_extend(body: bytes) -> tuple[str, str | None]:
    data = _json_reply(body)
    if isinstance(data, dict) and data.get("ok") in (0, "0") and not (data.get("data") or {}).get("longTextContent"):
        return "end", None  # answered: the long text is not available
    try:
        return "ok", parse_extend(data)
    except ParseError as error:
        raise Fault("not_extend", str(error)) from None


def validate_detail(body: bytes) -> tuple[str, dict]:
    text = body.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            if is_captcha(decode_json(text)):
                raise Fault("captcha")
        except ParseError:
            pass
    try:
        return "ok", parse_detail(text)
    except ParseError as error:
        raise Fault("not_detail", str(error)) from None


# -- the crawl -------------------------------------------------------------------------------------


class Crawler:
    def __init__(self, session: CrawlSession) -> None:
        self.session = session
        self.store = session.store
        self.summary = session.summary
        self.api_base = session.settings.api_base

    def run(self, plan: CrawlPlan) -> None:
        """Crawl each topic in turn. --limit ends a topic; a login redirect or persistent faults raise."""
        for topic in plan.topics:
            check_topic(topic)
        self.summary.topics = list(plan.topics)
        for topic in plan.topics:
            self._crawl_topic(topic, plan)
        self.session.report()

    def _crawl_topic(self, topic: str, plan: CrawlPlan) -> None:
        kept = state.kept_posts(self.store, topic)
        if plan.download_images:
            # pictures a killed (or --no-images) run left pending: their posts will not come again
            for row in pending_images(self.store, topic=topic):
                self.session.download_image(row)
                self.session.report()
        for container in plan.containers:
            query = state.ensure_query(self.store, topic, container, containerid_for(container, topic))
            if plan.restart:
                query = state.restart_query(self.store, query)
            label = f"{topic}/{container}"
            while not query.done:
                if plan.limit is not None and kept >= plan.limit:
                    self.summary.queries[label] = f"paused at {query.paging} {query.cursor} (--limit {plan.limit})"
                    self.summary.stopped_by = "limit"
                    return
                if plan.pages is not None and query.pages_done >= plan.pages:
                    self.summary.queries[label] = f"paused at {query.paging} {query.cursor} (--pages {plan.pages})"
                    self.summary.stopped_by = "pages"
                    break
                self.summary.queries[label] = f"{query.paging} {query.cursor}"
                page, kept = self._crawl_page(query, plan, kept)
                if plan.limit is not None and kept >= plan.limit:
                    continue  # the loop top reports the pause; the page is re-read next time
                self._advance(query, page)
            if query.done:
                self.summary.queries[label] = f"done ({query.end_reason})"
                self.summary.stopped_by = self.summary.stopped_by or "end"

    def _page_url(self, query: state.QueryState) -> str:
        if query.paging == "since_id" and query.since_id:
            return index_url(self.api_base, query.containerid, since_id=query.since_id)
        return index_url(self.api_base, query.containerid, page=query.next_page)

    def _crawl_page(self, query: state.QueryState, plan: CrawlPlan, kept: int) -> tuple[IndexPage, int]:
        """Store the new posts of the query's current page; returns the page and the topic's kept count."""
        url = self._page_url(query)
        try:
            page, fetched_at, _ = self.session.fetch_api("index", url, validate_index, query=query)
        except Gone as gone:
            raise CrawlBlocked(f"{url}: HTTP {gone.status}; is the API base URL ({self.api_base}) right?") from None
        self.summary.pages += 1
        for mblog in page.mblogs:
            if plan.limit is not None and kept >= plan.limit:
                break
            if self._process_post(mblog, query, plan, fetched_at):
                kept += 1
            self.session.report()
        self.session.report()
        return page, kept

    def _advance(self, query: state.QueryState, page: IndexPage) -> None:
        """Move the cursor past a fully stored page (or mark the query done), in one transaction."""
        query.pages_done += 1
        if page.is_end_reply:
            query.done, query.end_reason = True, "end_reply"
        elif page.next_page is not None and query.paging == "page":
            if page.next_page > query.next_page:
                query.next_page = page.next_page
            else:
                query.done, query.end_reason = True, "cursor_repeat"
        elif page.since_id is not None:
            if query.paging == "since_id" and page.since_id == query.since_id:
                query.done, query.end_reason = True, "cursor_repeat"
            else:
                query.paging, query.since_id = "since_id", page.since_id
        else:
            query.done, query.end_reason = True, "last_page"
        with self.store.transaction():
            state.save_query(self.store, query)

    def _process_post(self, mblog: dict[str, Any], query: state.QueryState, plan: CrawlPlan,
                      fetched_at: datetime) -> bool:
        """Store one post if new; True when it was kept (eligible)."""
        self.summary.posts_seen += 1
        try:
            post = parse_mblog(mblog, now=fetched_at)
        except InvalidPostId as error:
            self.session.reject("invalid_id", f"post dropped: {error}")
            return False
        except ParseError:
            self.summary.skipped["unparseable"] += 1
            return False
        if state.seen_post(self.store, post.mid, post.post_id):
            self.summary.already_stored += 1
            return False
        if not _in_range(post, plan.since, plan.until):
            self.summary.skipped["outside_dates"] += 1
            return False
        extra: dict[str, Any] = {}
        if needs_completion(post):
            if post.needs_long_text and not self._complete_text(post):
                self.summary.skipped["long_text_unavailable"] += 1
                return False
            if post.needs_detail:
                extra.update(self._complete_pictures(post))
        reason, image_ids = record_post(
            self.store, post, topic=query.topic, container=query.container, query_id=query.query_id,
            fetched_at=fetched_at, extra_meta=extra,
        )
        if reason:
            self.summary.dropped[reason] += 1
            return False
        self.summary.posts_kept += 1
        self.summary.images_found += len(image_ids)
        if plan.download_images:
            for row in pending_images(self.store, post.post_id):
                self.session.download_image(row)
                self.session.report()
        return True

    def _complete_text(self, post: ParsedPost) -> bool:
        name = f"{post.mid}.json" if post.mid.isdigit() else None
        try:
            html, _, _ = self.session.fetch_api(
                "extend", extend_url(self.api_base, post.mid), validate_extend, name=name,
                referer=f"{self.api_base}/detail/{post.mid}",
            )
        except Gone:
            return False
        if html is None:
            return False
        complete_text(post, html)
        self.summary.long_texts += 1
        return True

    def _complete_pictures(self, post: ParsedPost) -> dict[str, Any]:
        name = f"{post.mid}.html" if post.mid.isdigit() else None
        try:
            status, _, _ = self.session.fetch_api("detail", detail_url(self.api_base, post.mid), validate_detail, name=name)
        except Gone:
            return {"images_missing": post.pic_num - len(post.image_urls)}
        urls = mblog_image_urls(status)
        if len(urls) > len(post.image_urls):
            post.image_urls = urls
            self.summary.detail_pages += 1
        missing = post.pic_num - len(post.image_urls)
        return {"images_missing": missing} if missing > 0 else {}


def check_topic(topic: object) -> str:
    """A topic name (from --topic, cmner.toml or an archive's containerid) is a name: UnsafeInputError if not."""
    return check_name(topic, what="topic")


def complete_text(post: ParsedPost, long_html: str) -> None:
    """Replace the truncated list text by the statuses/extend text."""
    flat = flatten_html(long_html)
    post.text = flat.text
    post.html = long_html
    post.truncated = False
    post.is_long_text = True
    post.topics = list(dict.fromkeys(post.topics + flat.topics))


def _in_range(post: ParsedPost, since: date | None, until: date | None) -> bool:
    if not post.posted_at or (since is None and until is None):
        return True
    day = date.fromisoformat(post.posted_at[:10])
    return (since is None or day >= since) and (until is None or day <= until)
