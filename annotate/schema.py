"""The annotate stage's own tables (the shared annotation tables are core/0002_annotation).

- annotate_state: small key/value facts of this workspace's annotation set-up (the corpus key that
  makes Doccano project names unique per workspace).
- annotate_image_examples / annotate_image_votes: the optional image-relevance round (`annotate images`):
  which Doccano example shows which image, and each annotator's related/unrelated choice.
- annotate_prefills / annotate_suggestions: the model suggestions put into each annotator's copy of a
  post (`annotate push --suggest RUN`), and what the annotator did with each (`annotate pull`).
"""

from __future__ import annotations

import secrets

from cmner_build.store import Migration, Store

MIGRATIONS: list[Migration] = [
    Migration(
        "annotate/0001_state_and_image_votes",
        """
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
        "annotate/0002_suggestions",
        """
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
]


def migrate(store: Store) -> None:
    store.migrate(MIGRATIONS)


def corpus_key(store: Store) -> str:
    """A short random key of this workspace, made once: Doccano project names carry it so that two
    workspaces pushing to one server never adopt each other's projects."""
    migrate(store)
    key = store.scalar("SELECT value FROM annotate_state WHERE key = 'corpus_key'")
    if key is None:
        key = secrets.token_hex(3)
        with store.transaction():
            store.execute("INSERT OR IGNORE INTO annotate_state (key, value) VALUES ('corpus_key', ?)", (key,))
        key = store.scalar("SELECT value FROM annotate_state WHERE key = 'corpus_key'")
    return str(key)
