"""corpus.db: the SQLite store, the single source of truth of a workspace.

Every stage writes inside `transaction()`, so a killed process never leaves half a post behind.
The schema is versioned by named migrations: the core applies its own on open (the posts, images and
gold spans, and every annotation table: annotate writes them, agreement and adjudication read them), and
crawl and clean apply their own (`crawl/schema.py`, `clean/schema.py`) before they touch their tables.
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
CLEAN_STATUSES: tuple[str, ...] = ("cleaned", "ready", "dropped")  # where clean may put a post
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
    # The annotate stage's own tables. Their names say where they were first defined; a name is a
    # record in every workspace's schema_migrations, so it never changes.
    Migration(
        "annotate/0001_state_and_image_votes",
        """
        -- annotate_state: small key/value facts of this workspace's annotation set-up (the corpus key
        -- that makes Doccano project names unique per workspace).
        -- annotate_image_examples / annotate_image_votes: the optional image-relevance round
        -- (`annotate images`): which Doccano example shows which image, and each annotator's choice.
        CREATE TABLE annotate_state (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE annotate_image_examples (
            batch_id   TEXT NOT NULL REFERENCES batches(batch_id) ON DELETE CASCADE,
            image_id   INTEGER NOT NULL REFERENCES images(image_id) ON DELETE CASCADE,
            example_id INTEGER,                -- Doccano example id, once uploaded
            PRIMARY KEY (batch_id, image_id)
        );
        CREATE TABLE annotate_image_votes (
            batch_id  TEXT NOT NULL,
            image_id  INTEGER NOT NULL,
            annotator TEXT NOT NULL,
            label     TEXT NOT NULL CHECK (label IN ('related', 'unrelated')),
            pulled_at TEXT NOT NULL,
            PRIMARY KEY (batch_id, image_id, annotator),
            FOREIGN KEY (batch_id, image_id) REFERENCES annotate_image_examples(batch_id, image_id) ON DELETE CASCADE
        );
        """,
    ),
    Migration(
        "agreement/0001_adjudication",
        """
        -- Adjudication: one row per merged post and one per conflict cluster, with the adjudicator's
        -- decision and reason code once made. Offsets are code points into `text`, the text as pushed
        -- to the annotators (batch_posts.text).
        CREATE TABLE adjudication_posts (
            post_id     TEXT PRIMARY KEY REFERENCES posts(post_id) ON DELETE CASCADE,
            batch_id    TEXT NOT NULL,          -- the annotation batch whose versions were merged
            text        TEXT NOT NULL,          -- batch_posts.text: all offsets below refer to it
            aliases     TEXT NOT NULL,          -- JSON {"A": username, ...}; the adjudicator sees A/B/C
            min_votes   INTEGER NOT NULL,
            input_hash  TEXT NOT NULL,          -- of text, versions and min_votes: a change means re-merge
            versions    TEXT NOT NULL,          -- JSON {"A": [[start, end, label]], ...}: each whole version
            accepted    TEXT NOT NULL,          -- JSON [[start, end, label]] with >= min_votes exact votes
            outvoted    TEXT NOT NULL DEFAULT '[]',  -- JSON candidates overlapping an accepted span (audit)
            state       TEXT NOT NULL CHECK (state IN ('open', 'settled')),
            gold        TEXT,                   -- JSON spans written to gold_spans when settled
            settled_via TEXT,                   -- majority | interactive | doccano | auto_majority (joined by +)
            settled_at  TEXT,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX adjudication_posts_state ON adjudication_posts(state);

        CREATE TABLE adjudication_clusters (
            post_id       TEXT NOT NULL REFERENCES adjudication_posts(post_id) ON DELETE CASCADE,
            number        INTEGER NOT NULL,     -- 1, 2, ... in text order within the post
            start         INTEGER NOT NULL,     -- extent of the cluster
            end           INTEGER NOT NULL,
            conflict_type TEXT NOT NULL CHECK (conflict_type IN ('boundary', 'type', 'presence', 'mixed')),
            candidates    TEXT NOT NULL,        -- JSON [{"start", "end", "label", "voters": ["A", ...]}]
            silent        TEXT NOT NULL,        -- JSON aliases that marked nothing here
            suggestion    TEXT NOT NULL,        -- JSON spans: the character-level majority
            decision      TEXT,                 -- JSON spans the adjudicator kept here ([] = no entity); NULL = open
            reason        TEXT,                 -- reason code of the decision
            note          TEXT,
            decided_via   TEXT CHECK (decided_via IN ('interactive', 'doccano', 'auto_majority')),
            decided_at    TEXT,
            PRIMARY KEY (post_id, number)
        );
        CREATE INDEX adjudication_clusters_type ON adjudication_clusters(conflict_type);
        """,
    ),
    Migration(
        "core/0004_pending_exports",
        """
        -- An export between "files written" and "splits recorded" (see export.py): the split assignment
        -- it will record once its folder is swapped in. Settled by the next command that opens the store.
        CREATE TABLE pending_exports (
            export_id  TEXT PRIMARY KEY,        -- also written into the export folder's marker file
            out_dir    TEXT NOT NULL,           -- absolute path of the export folder
            assignment TEXT NOT NULL,           -- JSON {post_id: split}
            details    TEXT NOT NULL DEFAULT '{}',  -- JSON: ratio, seed, format, for the event log
            created_at TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "annotate/0002_suggestions",
        """
        -- Model suggestions put into annotators' copies (`annotate push --suggest RUN`) and what each
        -- annotator did with them (`annotate pull`); `agreement` reads them.
        CREATE TABLE annotate_prefills (
            -- one row per annotator's copy of a post that `push --suggest` pre-fills (even with no span)
            batch_id       TEXT NOT NULL,
            post_id        TEXT NOT NULL,
            annotator      TEXT NOT NULL,
            run_id         TEXT NOT NULL,       -- the run whose suggestions were used
            min_confidence REAL NOT NULL,
            sent           INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),  -- 1 once in Doccano
            added          INTEGER,             -- spans the annotator made touching no suggestion (pull,
                                                -- once the post is confirmed; NULL before)
            PRIMARY KEY (batch_id, post_id, annotator),
            FOREIGN KEY (batch_id, post_id) REFERENCES batch_posts(batch_id, post_id) ON DELETE CASCADE
        );
        CREATE TABLE annotate_suggestions (
            batch_id   TEXT NOT NULL,
            post_id    TEXT NOT NULL,
            annotator  TEXT NOT NULL,
            start      INTEGER NOT NULL,        -- code points into batch_posts.text
            end        INTEGER NOT NULL,
            label      TEXT NOT NULL CHECK (label IN ('PER','LOC','ORG','MISC')),
            confidence REAL NOT NULL,
            outcome    TEXT CHECK (outcome IN ('kept', 'changed', 'deleted')),  -- pull, once confirmed
            PRIMARY KEY (batch_id, post_id, annotator, start, end, label),
            FOREIGN KEY (batch_id, post_id, annotator)
                REFERENCES annotate_prefills(batch_id, post_id, annotator) ON DELETE CASCADE
        );
        """,
    ),
    Migration(
        "core/0005_run_predictions",
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
    """A connection to corpus.db with the core schema applied.

    read_only: open with SQLite's `mode=ro` (dry runs): no migration runs and any write fails, so the
    file cannot change. The core schema must already be there.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        try:
            if read_only:
                if not self.path.is_file():
                    raise sqlite3.OperationalError("no such file")
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self.connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            else:
                self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as error:
            raise WorkspaceError(f"{self.path}: cannot open the store: {error}") from None
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA foreign_keys = ON")
            if read_only:
                missing = self.pending_migrations(CORE_MIGRATIONS)
                if missing:
                    self.connection.close()
                    raise WorkspaceError(
                        f"{self.path}: the store lacks {', '.join(missing)}; run a command without --dry-run first"
                    )
            else:
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

    def pending_migrations(self, migrations: Sequence[Migration]) -> list[str]:
        """Names of the migrations not applied yet (all of them in a store that has none)."""
        has_table = self.connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        applied = {row[0] for row in self.connection.execute("SELECT name FROM schema_migrations")} if has_table else set()
        return [migration.name for migration in migrations if migration.name not in applied]

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not applied yet, each in its own transaction. Returns their names."""
        if self.read_only:
            missing = self.pending_migrations(migrations)
            if missing:
                raise WorkspaceError(f"{self.path}: opened read-only, cannot apply {', '.join(missing)}")
            return []
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

    # -- the post life cycle: every status change goes through one of these -------------------

    def set_status(self, post_id: str, status: str, drop_reason: str | None = None) -> None:
        """One post to any status (images: cleaned / ready / dropped; adjudication: gold / dropped)."""
        _check_status(status, drop_reason)
        self.execute(
            "UPDATE posts SET status = ?, drop_reason = ?, updated_at = ? WHERE post_id = ?",
            (status, drop_reason, utc_now(), post_id),
        )

    def record_cleaning(self, updates: Iterable[tuple[str, str, str | None, str | None, str, str]]) -> None:
        """clean's result, one `(text, status, drop_reason, dup_group, updated_at, post_id)` per post
        whose text or status changed; the status is cleaned, ready or dropped."""
        rows = list(updates)
        for _text, status, drop_reason, _group, _at, _post_id in rows:
            _check_status(status, drop_reason)
            if status not in CLEAN_STATUSES:
                raise ValueError(f"clean cannot move a post to {status!r}")
        self.connection.executemany(
            "UPDATE posts SET text = ?, status = ?, drop_reason = ?, dup_group = ?, updated_at = ? WHERE post_id = ?",
            rows,
        )

    def start_annotating(self, post_ids: Iterable[str]) -> None:
        """ready -> annotating: the posts are in a batch pushed (or pulled from an export). Others stay."""
        now = utc_now()
        self.connection.executemany(
            "UPDATE posts SET status = 'annotating', updated_at = ? WHERE post_id = ? AND status = 'ready'",
            [(now, post_id) for post_id in post_ids],
        )

    def finish_annotating(self, post_ids: Iterable[str], now: str | None = None) -> None:
        """ready / annotating -> annotated: every assigned annotator confirmed the post."""
        now = now or utc_now()
        self.connection.executemany(
            "UPDATE posts SET status = 'annotated', updated_at = ? WHERE post_id = ? "
            "AND status IN ('ready', 'annotating')",
            [(now, post_id) for post_id in post_ids],
        )

    def reopen_annotating(self, post_ids: Iterable[str], now: str | None = None) -> None:
        """annotated -> annotating: an annotator withdrew a confirmation since the last pull."""
        now = now or utc_now()
        self.connection.executemany(
            "UPDATE posts SET status = 'annotating', updated_at = ? WHERE post_id = ? AND status = 'annotated'",
            [(now, post_id) for post_id in post_ids],
        )

    # -- annotation batches ----------------------------------------------------------------------

    def create_batch(
        self,
        batch_id: str,
        round_: str,
        project_name: str,
        *,
        annotators: Sequence[str] = (),
        posts: Iterable[tuple[str, str, int | None]] = (),
        meta: dict[str, Any] | None = None,
    ) -> None:
        """A batch row, its annotators (already in `annotators`) and its `(post_id, text as pushed,
        example_id)` rows, in one transaction (or the caller's)."""
        with self.transaction():
            self.execute(
                "INSERT INTO batches (batch_id, round, project_id, project_name, created_at, meta) "
                "VALUES (?, ?, NULL, ?, ?, ?)",
                (batch_id, round_, project_name, utc_now(), json.dumps(meta or {}, sort_keys=True)),
            )
            self.connection.executemany(
                "INSERT INTO batch_annotators (batch_id, annotator) VALUES (?, ?)",
                [(batch_id, annotator) for annotator in annotators],
            )
            self.connection.executemany(
                "INSERT INTO batch_posts (batch_id, post_id, text, example_id) VALUES (?, ?, ?, ?)",
                [(batch_id, post_id, text, example_id) for post_id, text, example_id in posts],
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


def _check_status(status: str, drop_reason: str | None) -> None:
    if status not in POST_STATUSES:
        raise ValueError(f"unknown post status {status!r}")
    if (status == "dropped") != (drop_reason is not None):
        raise ValueError("a dropped post needs a reason, and only a dropped post has one")


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
