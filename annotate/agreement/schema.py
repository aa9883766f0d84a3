"""Tables of the agreement / adjudication stage (applied with `store.migrate(MIGRATIONS)` before use).

Agreement runs themselves live in the core table agreement_runs (the push gate reads it); these
tables hold the adjudication: one row per merged post and one per conflict cluster, with the
adjudicator's decision and reason code once made. Offsets are code points into `text`, which is the
text as pushed to the annotators (batch_posts.text).
"""

from __future__ import annotations

from cmner_build.store import Migration, Store

MIGRATIONS: list[Migration] = [
    Migration(
        "agreement/0001_adjudication",
        """
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
]


def ensure_schema(store: Store) -> None:
    store.migrate(MIGRATIONS)
