"""The crawl's own tables (migration `crawl/0001_state`): query cursors, the request log, seen posts.

    crawl_queries   one row per (topic, container): paging mode, the next page or since_id, done flag.
                    `generation` grows on --restart, so recorded pages of an earlier pass are not reused.
    crawl_requests  every request made (one row per attempt, faults included) with its outcome and the
                    archived body; a page, long text or detail page already answered is read back from
                    the archive instead of being requested again after a kill.
    crawl_posts     every post id seen (mid and bid), kept or dropped: the dedupe key across queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cmner_build.store import Migration, Store, utc_now

MIGRATIONS: list[Migration] = [
    Migration(
        "crawl/0001_state",
        """
        CREATE TABLE crawl_queries (
            query_id     INTEGER PRIMARY KEY,
            topic        TEXT NOT NULL,
            container    TEXT NOT NULL,          -- topic | search
            containerid  TEXT NOT NULL,          -- e.g. 231522type=1&t=10&q=#体育#
            paging       TEXT NOT NULL DEFAULT 'page' CHECK (paging IN ('page', 'since_id')),
            next_page    INTEGER NOT NULL DEFAULT 1,
            since_id     TEXT,                   -- the next cursor in since_id mode
            pages_done   INTEGER NOT NULL DEFAULT 0,
            done         INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
            end_reason   TEXT,                   -- last_page | end_reply | cursor_repeat
            generation   INTEGER NOT NULL DEFAULT 1,
            updated_at   TEXT NOT NULL,
            UNIQUE (topic, container)
        );
        CREATE TABLE crawl_requests (
            request_id   INTEGER PRIMARY KEY,
            at           TEXT NOT NULL,
            kind         TEXT NOT NULL,          -- index | extend | detail | image
            url          TEXT NOT NULL,          -- as requested (the cookie is a header, never here)
            query_id     INTEGER,
            generation   INTEGER,
            http_status  INTEGER,
            outcome      TEXT NOT NULL,          -- ok | end | gone | fault:<kind> | login
            archive_file TEXT,                   -- relative to the workspace archive/
            bytes        INTEGER,
            elapsed_ms   INTEGER
        );
        CREATE INDEX crawl_requests_url ON crawl_requests(url);
        CREATE TABLE crawl_posts (
            mid          TEXT PRIMARY KEY,
            post_id      TEXT NOT NULL,          -- the bid = posts.post_id
            topic        TEXT,
            kept         INTEGER NOT NULL CHECK (kept IN (0, 1)),
            query_id     INTEGER,                -- NULL when read from an archive
            seen_at      TEXT NOT NULL
        );
        CREATE INDEX crawl_posts_post ON crawl_posts(post_id);
        CREATE INDEX crawl_posts_topic ON crawl_posts(topic, kept);
        """,
    ),
]


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
