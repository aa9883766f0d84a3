"""Writing crawled posts to the store: eligibility, the post row, its picture rows, the dedupe key.

Eligible (status `crawled`): has text, has at least one picture, is not a repost, is not deleted.
Ineligible posts are stored too, as `dropped` with the reason (`deleted`, `repost`, `no_text`,
`no_images`), so `stats --json` shows them under total/drop_reasons and a later crawl does not fetch
their long text again. Posts of any length are kept: the clean stage applies `corpus.max_chars` after
its text rules (drop reason `too_long`), since removing link labels and emoticons can bring a post
under the limit.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cmner_build.store import Store, utc_now

from cmner_build.crawl.parse import ParsedPost, image_pid

SOURCE = "crawl"
DROP_REASONS = ("deleted", "repost", "no_text", "no_images")


def drop_reason_for(post: ParsedPost) -> str | None:
    if post.is_deleted:
        return "deleted"
    if post.is_repost:
        return "repost"
    if not post.text.strip():
        return "no_text"
    if not post.image_urls:
        return "no_images"
    return None


def needs_completion(post: ParsedPost) -> bool:
    """Worth a statuses/extend or detail request: not already lost to a reason more text cannot change."""
    reason = drop_reason_for(post)
    if reason in ("deleted", "repost"):
        return False
    return not (reason == "no_images" and not post.needs_detail)


def post_meta(post: ParsedPost, *, container: str | None, fetched_at: datetime | None, extra: dict[str, Any]) -> dict:
    meta: dict[str, Any] = {
        "mid": post.mid,
        "bid": post.post_id,
        "pic_num": post.pic_num,
        "is_long_text": post.is_long_text,
        "chars": len(post.text),
        "container": container,
        "topics": post.topics,
        "created_at_raw": post.created_at_raw,
        "posted_at_precision": post.posted_at_precision,
        **post.counts,
    }
    if post.is_pinned:
        meta["pinned"] = True
    if fetched_at is not None:
        meta["fetched_at"] = fetched_at.isoformat(timespec="seconds")
    meta.update(extra)
    return meta


def record_post(
    store: Store,
    post: ParsedPost,
    *,
    topic: str,
    container: str | None,
    query_id: int | None,
    fetched_at: datetime | None,
    extra_meta: dict[str, Any] | None = None,
) -> tuple[str | None, list[int]]:
    """Insert the post, its pictures (pending) and its dedupe row in one transaction.

    Returns (drop reason or None, image ids of a kept post).
    """
    reason = drop_reason_for(post)
    now = utc_now()
    meta = post_meta(post, container=container, fetched_at=fetched_at, extra=extra_meta or {})
    image_ids: list[int] = []
    with store.transaction():
        store.execute(
            "INSERT INTO posts (post_id, topic, source, original_text, text, tokenization, status, drop_reason,"
            " posted_at, user_id, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'char', ?, ?, ?, ?, ?, ?, ?)",
            (post.post_id, topic, SOURCE, post.text, post.text, "dropped" if reason else "crawled", reason,
             post.posted_at, post.user_id, json.dumps(meta, ensure_ascii=False, sort_keys=True), now, now),
        )
        if reason is None:
            for position, url in enumerate(post.image_urls):
                cursor = store.execute(
                    "INSERT INTO images (post_id, position, url, status, meta) VALUES (?, ?, ?, 'pending', ?)",
                    (post.post_id, position, url, json.dumps({"pid": image_pid(url)})),
                )
                image_ids.append(cursor.lastrowid)
        store.execute(
            "INSERT INTO crawl_posts (mid, post_id, topic, kept, query_id, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            (post.mid, post.post_id, topic, 0 if reason else 1, query_id, now),
        )
    return reason, image_ids


def mark_downloaded(store: Store, image_id: int, file_name: str, sha256: str, width: int | None, height: int | None) -> None:
    store.execute(
        "UPDATE images SET status = 'downloaded', file_name = ?, sha256 = ?, width = ?, height = ? "
        "WHERE image_id = ? AND status = 'pending'",
        (file_name, sha256, width, height, image_id),
    )


def mark_image_gone(store: Store, image_id: int, status: int) -> None:
    store.execute(
        "UPDATE images SET status = 'dropped', drop_reason = ? WHERE image_id = ? AND status = 'pending'",
        (f"http_{status}", image_id),
    )


def mark_image_bad(store: Store, image_id: int, reason: str, detail: str) -> None:
    """A body that arrived but is no picture: dropped with the clean stage's reason and the detail that
    `images --report` shows (images.meta.check.detail)."""
    store.execute(
        "UPDATE images SET status = 'dropped', drop_reason = ?, "
        "meta = json_set(COALESCE(meta, '{}'), '$.check', json_object('detail', ?, 'source', 'crawl')) "
        "WHERE image_id = ? AND status = 'pending'",
        (reason, detail, image_id),
    )


def note_image_failure(store: Store, image_id: int, error: str) -> None:
    """A pending picture whose download stopped the run: counted in images.meta, so it is tried after
    the pictures that never failed (see `pending_images`)."""
    store.execute(
        "UPDATE images SET meta = json_set(COALESCE(meta, '{}'), '$.fetch_failures', "
        "COALESCE(json_extract(meta, '$.fetch_failures'), 0) + 1, '$.last_error', ?) "
        "WHERE image_id = ? AND status = 'pending'",
        (error[:300], image_id),
    )


def pending_images(store: Store, post_id: str | None = None, topic: str | None = None) -> list[Any]:
    """Pictures of crawled posts still waiting for their bytes, in post and picture order; pictures
    whose download already stopped a run come last."""
    sql = (
        "SELECT images.image_id, images.post_id, images.position, images.url FROM images "
        "JOIN posts ON posts.post_id = images.post_id "
        "WHERE images.status = 'pending' AND images.url IS NOT NULL AND posts.source = ? AND posts.status != 'dropped'"
    )
    parameters: list[Any] = [SOURCE]
    if post_id is not None:
        sql += " AND images.post_id = ?"
        parameters.append(post_id)
    if topic is not None:
        sql += " AND posts.topic = ?"
        parameters.append(topic)
    order = " ORDER BY COALESCE(json_extract(images.meta, '$.fetch_failures'), 0), posts.rowid, images.position"
    return store.query(sql + order, parameters)


def over_limit_count(store: Store, max_chars: int) -> int:
    """Crawled posts (not yet cleaned) whose text is over the limit: the clean stage decides about them."""
    return store.scalar(
        "SELECT COUNT(*) FROM posts WHERE source = ? AND status = 'crawled' AND length(text) > ?", (SOURCE, max_chars)
    ) or 0
