"""Tables of the clean stage, applied with `store.migrate(MIGRATIONS)` before the stage touches them."""

from __future__ import annotations

from cmner_build.store import Migration

MIGRATIONS: list[Migration] = [
    Migration(
        "clean/0001_clean_posts",
        """
        -- One row per post the clean stage has processed: what the rules made of its original text.
        CREATE TABLE clean_posts (
            post_id      TEXT PRIMARY KEY REFERENCES posts(post_id) ON DELETE CASCADE,
            config_hash  TEXT NOT NULL,          -- fingerprint of rules, redaction, lexicons and limits used
            cleaned_text TEXT NOT NULL,          -- output of the rules and redaction (= posts.text unless frozen)
            drop_reason  TEXT,                   -- the reason clean dropped the post (unfit:*, too_long, ...)
            unfit_terms  TEXT NOT NULL DEFAULT '{}',   -- JSON {category: [terms]} the content filter found
            updated_at   TEXT NOT NULL
        );
        -- Which rules changed which post, and how many times (a rule that changed nothing has no row).
        -- Redaction appears as pii:phone, pii:id_card, pii:email, pii:qq.
        CREATE TABLE clean_rule_hits (
            post_id TEXT NOT NULL REFERENCES posts(post_id) ON DELETE CASCADE,
            rule    TEXT NOT NULL,
            hits    INTEGER NOT NULL CHECK (hits > 0),
            PRIMARY KEY (post_id, rule)
        );
        CREATE INDEX clean_rule_hits_rule ON clean_rule_hits(rule);
        """,
    ),
]
