"""corpus.db: the SQLite store, the single source of truth of a workspace.

Every stage writes inside `transaction()`, so a killed process never leaves half a post behind.
The schema is versioned by named migrations: the core applies its own on open, and each stage
package applies its own (`store.migrate(MIGRATIONS)`) before it touches its tables.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import WorkspaceError
from .model import Span


@dataclass(frozen=True)
class Migration:
    """One schema step. Names are `<package>/<NNNN>_<what>` and are applied once, in list order."""

    name: str
    sql: str


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# Post life cycle. A post is in exactly one status; `dropped` always comes with a drop_reason.
POST_STATUSES: tuple[str, ...] = (
    "crawled",  # fetched, text as Weibo gave it
    "cleaned",  # text rules, privacy redaction and content filter applied
    "ready",  # has at least one kept image: may be pushed to annotators
    "annotating",  # pushed to Doccano
    "annotated",  # every assigned annotator's work is pulled
    "gold",  # adjudicated, or imported from a release: export writes these
    "dropped",  # removed, see drop_reason
)
IMAGE_STATUSES: tuple[str, ...] = ("pending", "downloaded", "kept", "dropped")

CORE_MIGRATIONS: list[Migration] = [
    Migration(
        "core/0001_posts_images_gold",
        """
        CREATE TABLE posts (
            post_id       TEXT PRIMARY KEY,
            topic         TEXT,                 -- crawl category (体育/旅游/科技), stratifies splits
            source        TEXT NOT NULL,        -- crawl | import:cmner | import:twitter2015
            original_text TEXT NOT NULL,        -- as crawled or imported, never modified
            text          TEXT NOT NULL,        -- current text (after clean)
            tokenization  TEXT NOT NULL DEFAULT 'char' CHECK (tokenization IN ('char', 'whitespace')),
            status        TEXT NOT NULL CHECK (status IN
                          ('crawled','cleaned','ready','annotating','annotated','gold','dropped')),
            drop_reason   TEXT,
            split         TEXT CHECK (split IN ('train', 'dev', 'test')),
            dup_group     TEXT,                 -- near-duplicate group (clean): export keeps it in one split
            posted_at     TEXT,
            user_id       TEXT,
            meta          TEXT NOT NULL DEFAULT '{}',   -- JSON
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        );
        CREATE INDEX posts_status ON posts(status);
        CREATE INDEX posts_dup_group ON posts(dup_group);

        CREATE TABLE images (
            image_id    INTEGER PRIMARY KEY,
            post_id     TEXT NOT NULL REFERENCES posts(post_id) ON DELETE CASCADE,
            position    INTEGER NOT NULL,       -- order within the post, from 0
            file_name   TEXT,                   -- release name under images/: {post_id}_{suffix}.{ext}
            url         TEXT,
            status      TEXT NOT NULL CHECK (status IN ('pending','downloaded','kept','dropped')),
            drop_reason TEXT,
            sha256      TEXT,
            phash       TEXT,
            width       INTEGER,
            height      INTEGER,
            meta        TEXT NOT NULL DEFAULT '{}',
            UNIQUE (post_id, position)
        );
        CREATE INDEX images_post ON images(post_id);
        CREATE INDEX images_status ON images(status);

        CREATE TABLE gold_spans (
            post_id TEXT NOT NULL REFERENCES posts(post_id) ON DELETE CASCADE,
            start   INTEGER NOT NULL,
            end     INTEGER NOT NULL,
            label   TEXT NOT NULL CHECK (label IN ('PER','LOC','ORG','MISC')),
            source  TEXT NOT NULL,              -- import | adjudication
            PRIMARY KEY (post_id, start, end, label),
            CHECK (0 <= start AND start < end)
        );

        CREATE TABLE events (
            event_id INTEGER PRIMARY KEY,
            at       TEXT NOT NULL,
            stage    TEXT NOT NULL,
            kind     TEXT NOT NULL,
            post_id  TEXT,
            message  TEXT NOT NULL,
            data     TEXT NOT NULL DEFAULT '{}'
        );
        """,
    ),
    Migration(
        "core/0002_annotation",
        """
        -- Shared by annotate (writes) and agreement / adjudication (reads). Passwords never live here.
        CREATE TABLE annotators (
            username   TEXT PRIMARY KEY,
            active     INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE batches (
            batch_id     TEXT PRIMARY KEY,      -- 'pilot', 'batch-0001', ...
            round        TEXT NOT NULL CHECK (round IN ('pilot', 'main', 'adjudication', 'images')),
            project_id   INTEGER,               -- Doccano project id, once created
            project_name TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            meta         TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE batch_annotators (
            batch_id  TEXT NOT NULL REFERENCES batches(batch_id) ON DELETE CASCADE,
            annotator TEXT NOT NULL REFERENCES annotators(username),
            PRIMARY KEY (batch_id, annotator)
        );
        CREATE TABLE batch_posts (
            batch_id   TEXT NOT NULL REFERENCES batches(batch_id) ON DELETE CASCADE,
            post_id    TEXT NOT NULL REFERENCES posts(post_id),
            text       TEXT NOT NULL,           -- the text as pushed: spans refer to it
            example_id INTEGER,                 -- Doccano example id, once uploaded
            PRIMARY KEY (batch_id, post_id)
        );
        CREATE TABLE annotations (
            -- one row per annotator and example pulled; no row means "not pulled yet"
            batch_id  TEXT NOT NULL,
            post_id   TEXT NOT NULL,
            annotator TEXT NOT NULL,
            confirmed INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
            pulled_at TEXT NOT NULL,
            PRIMARY KEY (batch_id, post_id, annotator),
            FOREIGN KEY (batch_id, post_id) REFERENCES batch_posts(batch_id, post_id) ON DELETE CASCADE
        );
        CREATE TABLE annotation_spans (
            batch_id  TEXT NOT NULL,
            post_id   TEXT NOT NULL,
            annotator TEXT NOT NULL,
            start     INTEGER NOT NULL,         -- code points into batch_posts.text
            end       INTEGER NOT NULL,
            label     TEXT NOT NULL CHECK (label IN ('PER','LOC','ORG','MISC')),
            PRIMARY KEY (batch_id, post_id, annotator, start, end, label),
            FOREIGN KEY (batch_id, post_id, annotator)
                REFERENCES annotations(batch_id, post_id, annotator) ON DELETE CASCADE,
            CHECK (0 <= start AND start < end)
        );
        """,
    ),
    Migration(
        "core/0003_agreement_runs",
        """
        -- Written by `agreement`; `annotate push` reads the latest pilot run to enforce the gate.
        CREATE TABLE agreement_runs (
            run_id     INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            round      TEXT NOT NULL,           -- pilot | all | vs-gold
            batch_id   TEXT,                    -- when restricted to one batch
            strict_f1  REAL,                    -- mean pairwise strict span F1 (the primary measure)
            passed     INTEGER CHECK (passed IN (0, 1)),   -- the pilot gate; NULL when no gate applies
            report     TEXT NOT NULL DEFAULT '{}'          -- the full JSON report
        );
        """,
    ),
    Migration(
        "core/0004_run_predictions",
        """
        -- Written by `predict` (a trained baseline run labels posts); read by `annotate push --suggest`
        -- (pre-filled spans) and `annotate push --order uncertainty` (least sure first).
        CREATE TABLE run_predictions (
            run_id       TEXT NOT NULL,
            post_id      TEXT NOT NULL REFERENCES posts(post_id) ON DELETE CASCADE,
            text         TEXT NOT NULL,         -- the text predicted on: spans refer to it
            margin       REAL NOT NULL,         -- mean gap between the two most probable tags (low: unsure)
            predicted_at TEXT NOT NULL,
            PRIMARY KEY (run_id, post_id)
        );
        CREATE TABLE run_suggestions (
            run_id     TEXT NOT NULL,
            post_id    TEXT NOT NULL,
            start      INTEGER NOT NULL,        -- code points into run_predictions.text
            end        INTEGER NOT NULL,
            label      TEXT NOT NULL CHECK (label IN ('PER','LOC','ORG','MISC')),
            confidence REAL NOT NULL,           -- the lowest CRF marginal of the span's tags
            PRIMARY KEY (run_id, post_id, start, end, label),
            FOREIGN KEY (run_id, post_id) REFERENCES run_predictions(run_id, post_id) ON DELETE CASCADE,
            CHECK (0 <= start AND start < end)
        );
        -- Written by `baseline ... --gold-so-far`; read by `annotate status` (dev F1 as gold grows).
        CREATE TABLE gold_runs (
            run_id      TEXT PRIMARY KEY,
            model       TEXT NOT NULL,
            images      TEXT NOT NULL,
            gold_posts  INTEGER NOT NULL,       -- gold posts in the workspace when the run was trained
            train_posts INTEGER NOT NULL,
            dev_f1      REAL NOT NULL,
            created_at  TEXT NOT NULL
        );
        """,
    ),
]


class Store:
    """A connection to corpus.db with the core schema applied."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as error:
            raise WorkspaceError(f"{self.path}: cannot open the store: {error}") from None
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA foreign_keys = ON")
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = NORMAL")
            self.migrate(CORE_MIGRATIONS)
        except sqlite3.DatabaseError as error:
            self.connection.close()
            raise WorkspaceError(f"{self.path}: not a cmner-build store ({error})") from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any exception. Nests as a no-op."""
        if self.connection.in_transaction:
            yield self.connection
            return
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def query(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.connection.execute(sql, parameters).fetchall()

    def scalar(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.connection.execute(sql, parameters).fetchone()
        return None if row is None else row[0]

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not applied yet, each in its own transaction. Returns their names."""
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in self.connection.execute("SELECT name FROM schema_migrations")}
        done: list[str] = []
        for migration in migrations:
            if migration.name in applied:
                continue
            with self.transaction():
                # executescript() would COMMIT our transaction; run the statements one by one instead.
                for statement in _split_sql(migration.sql):
                    self.connection.execute(statement)
                self.connection.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (migration.name, utc_now())
                )
            done.append(migration.name)
        return done

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self.query("SELECT name FROM schema_migrations ORDER BY rowid")]

    # -- posts, images, gold: used by several stages -------------------------------------------

    def log_event(self, stage: str, kind: str, message: str, post_id: str | None = None, **data: Any) -> None:
        self.execute(
            "INSERT INTO events (at, stage, kind, post_id, message, data) VALUES (?, ?, ?, ?, ?, ?)",
            (utc_now(), stage, kind, post_id, message, json.dumps(data, ensure_ascii=False, sort_keys=True)),
        )

    def post_ids(self) -> set[str]:
        return {row[0] for row in self.execute("SELECT post_id FROM posts")}

    def set_status(self, post_id: str, status: str, drop_reason: str | None = None) -> None:
        if status not in POST_STATUSES:
            raise ValueError(f"unknown post status {status!r}")
        if (status == "dropped") != (drop_reason is not None):
            raise ValueError("a dropped post needs a reason, and only a dropped post has one")
        self.execute(
            "UPDATE posts SET status = ?, drop_reason = ?, updated_at = ? WHERE post_id = ?",
            (status, drop_reason, utc_now(), post_id),
        )

    def gold_spans(self, post_ids: Iterable[str] | None = None) -> dict[str, list[Span]]:
        """Gold spans by post, sorted by position."""
        rows = self.query("SELECT post_id, start, end, label FROM gold_spans ORDER BY post_id, start, end")
        wanted = None if post_ids is None else set(post_ids)
        spans: dict[str, list[Span]] = {}
        for row in rows:
            if wanted is None or row["post_id"] in wanted:
                spans.setdefault(row["post_id"], []).append(Span(row["start"], row["end"], row["label"]))
        return spans

    def replace_gold_spans(self, post_id: str, spans: Iterable[Span], source: str) -> None:
        self.execute("DELETE FROM gold_spans WHERE post_id = ?", (post_id,))
        self.connection.executemany(
            "INSERT INTO gold_spans (post_id, start, end, label, source) VALUES (?, ?, ?, ?, ?)",
            [(post_id, span.start, span.end, span.label, source) for span in spans],
        )


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows where they end)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements
