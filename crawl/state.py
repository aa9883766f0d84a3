"""The crawl's state in the store: query cursors, the request log, seen posts (tables: crawl/schema.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cmner_build.store import Store, utc_now

from cmner_build.crawl.schema import MIGRATIONS


@dataclass
class QueryState:
    query_id: int
    topic: str
    container: str
    containerid: str
    paging: str
    next_page: int
    since_id: str | None
    pages_done: int
    done: bool
    end_reason: str | None
    generation: int

    @property
    def cursor(self) -> str:
        return self.since_id if self.paging == "since_id" and self.since_id else str(self.next_page)


def migrate(store: Store) -> None:
    store.migrate(MIGRATIONS)


def _query_from_row(row: Any) -> QueryState:
    return QueryState(
        query_id=row["query_id"], topic=row["topic"], container=row["container"], containerid=row["containerid"],
        paging=row["paging"], next_page=row["next_page"], since_id=row["since_id"], pages_done=row["pages_done"],
        done=bool(row["done"]), end_reason=row["end_reason"], generation=row["generation"],
    )


def ensure_query(store: Store, topic: str, container: str, containerid: str) -> QueryState:
    with store.transaction():
        store.execute(
            "INSERT OR IGNORE INTO crawl_queries (topic, container, containerid, updated_at) VALUES (?, ?, ?, ?)",
            (topic, container, containerid, utc_now()),
        )
    return load_query(store, topic, container)


def load_query(store: Store, topic: str, container: str) -> QueryState:
    row = store.query("SELECT * FROM crawl_queries WHERE topic = ? AND container = ?", (topic, container))[0]
    return _query_from_row(row)


def restart_query(store: Store, query: QueryState) -> QueryState:
    """Back to the first page, in a new generation: stored posts stay, so nothing is duplicated."""
    with store.transaction():
        store.execute(
            "UPDATE crawl_queries SET paging = 'page', next_page = 1, since_id = NULL, pages_done = 0, done = 0,"
            " end_reason = NULL, generation = generation + 1, updated_at = ? WHERE query_id = ?",
            (utc_now(), query.query_id),
        )
    return load_query(store, query.topic, query.container)


def save_query(store: Store, query: QueryState) -> None:
    store.execute(
        "UPDATE crawl_queries SET paging = ?, next_page = ?, since_id = ?, pages_done = ?, done = ?, end_reason = ?,"
        " updated_at = ? WHERE query_id = ?",
        (query.paging, query.next_page, query.since_id, query.pages_done, int(query.done), query.end_reason,
         utc_now(), query.query_id),
    )


def log_request(
    store: Store,
    *,
    kind: str,
    url: str,
    outcome: str,
    http_status: int | None = None,
    query: QueryState | None = None,
    archive_file: str | None = None,
    size: int | None = None,
    elapsed_ms: int | None = None,
    at: str | None = None,
) -> None:
    store.execute(
        "INSERT INTO crawl_requests (at, kind, url, query_id, generation, http_status, outcome, archive_file, bytes,"
        " elapsed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at or utc_now(), kind, url, query.query_id if query else None, query.generation if query else None,
         http_status, outcome, archive_file, size, elapsed_ms),
    )


def recorded_answer(store: Store, url: str, query: QueryState | None = None) -> Any | None:
    """The latest answered request for this URL (in the query's current generation), or None."""
    if query is not None:
        rows = store.query(
            "SELECT * FROM crawl_requests WHERE url = ? AND outcome IN ('ok', 'end') AND archive_file IS NOT NULL"
            " AND query_id = ? AND generation = ? ORDER BY request_id DESC LIMIT 1",
            (url, query.query_id, query.generation),
        )
    else:
        rows = store.query(
            "SELECT * FROM crawl_requests WHERE url = ? AND outcome IN ('ok', 'end') AND archive_file IS NOT NULL"
            " ORDER BY request_id DESC LIMIT 1",
            (url,),
        )
    return rows[0] if rows else None


def seen_post(store: Store, mid: str, post_id: str) -> bool:
    """Dedupe by both ids: the mid in crawl_posts, the bid in posts (imported or crawled)."""
    if store.scalar("SELECT 1 FROM crawl_posts WHERE mid = ?", (mid,)):
        return True
    return bool(store.scalar("SELECT 1 FROM posts WHERE post_id = ?", (post_id,)))


def kept_posts(store: Store, topic: str) -> int:
    return store.scalar("SELECT COUNT(*) FROM crawl_posts WHERE topic = ? AND kept = 1", (topic,)) or 0
