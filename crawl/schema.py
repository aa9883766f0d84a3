"""The crawl's own tables (migration `crawl/0001_state`): query cursors, the request log, seen posts.

    crawl_queries   one row per (topic, container): paging mode, the next page or since_id, done flag.
                    `generation` grows on --restart, so recorded pages of an earlier pass are not reused.
    crawl_requests  every request made (one row per attempt, faults included) with its outcome and the
                    archived body; a page, long text or detail page already answered is read back from
                    the archive instead of being requested again after a kill.
    crawl_posts     every post id seen (mid and bid), kept or dropped: the dedupe key across queries.
"""

from __future__ import annotations

from cmner_build.store import Migration

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
