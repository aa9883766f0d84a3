"""The clean stage over the store: rules, redaction, content filter, length limit, near-duplicate groups.

Scope: posts in status crawled, cleaned or ready, and posts this stage dropped itself. Their text is
always rebuilt from `posts.original_text`, so a changed rule is applied from scratch and a second run
with the same settings changes nothing. Posts already pushed to annotation (annotating, annotated,
gold) are never modified; when the current settings would give one of them another text it is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from cmner_build.near_duplicates import group_pairs, near_duplicate_pairs
from cmner_build.safety import fault_point, stage_lock
from cmner_build.privacy import private_data_by_post
from cmner_build.store import Store, utc_now

from cmner_build.clean.content_filter import drop_category
from cmner_build.clean.schema import MIGRATIONS
from cmner_build.clean.settings import CleanOptions
from cmner_build.clean.privacy import redact_with_rules

IN_SCOPE = ("crawled", "cleaned", "ready")
FROZEN = ("annotating", "annotated", "gold")


@dataclass
class CleanedPost:
    """What the current settings make of one post."""

    post_id: str
    original_text: str
    text: str
    hits: dict[str, int]  # rule name (or pii:<kind>) -> changes
    unfit: dict[str, list[str]]
    drop_reason: str | None
    dup_group: str | None = None


@dataclass
class CleanReport:
    dry_run: bool
    config_hash: str
    posts_in_scope: int = 0
    posts_changed: int = 0  # rows this run wrote (0 when nothing changed)
    texts_changed: int = 0  # posts whose cleaned text differs from the original
    rules: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> {"posts": n, "changes": m}
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> posts
    restored: list[str] = field(default_factory=list)  # dropped by an earlier run, kept now
    statuses: dict[str, int] = field(default_factory=dict)  # status of the posts in scope after the run
    duplicate_groups: int = 0
    posts_in_duplicate_groups: int = 0
    frozen_would_change: list[str] = field(default_factory=list)
    gold_with_private_data: list[str] = field(default_factory=list)  # `clean --gold` masks them
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()}


def clean_text(original_text: str, options: CleanOptions) -> tuple[str, dict[str, int]]:
    """Redaction, rules, redaction, from the original text. Returns the text and the per-rule change counts."""
    return redact_with_rules(original_text, options.rules, options.redact_kinds)


def clean_post(post_id: str, original_text: str, options: CleanOptions) -> CleanedPost:
    text, hits = clean_text(original_text, options)
    unfit = options.content_filter.match(text)
    if unfit:
        reason: str | None = f"unfit:{drop_category(unfit)}"
    elif len(text) > options.max_chars:
        reason = "too_long"
    elif not text.strip():
        reason = "empty"
    else:
        reason = None
    return CleanedPost(post_id, original_text, text, hits, unfit, reason)


def assign_duplicate_groups(
    posts: list[CleanedPost], frozen_texts: dict[str, str], options: CleanOptions
) -> tuple[int, int]:
    """Set dup_group on kept posts (the smallest post id of the group); drop all but one per group when asked.

    Frozen posts (already annotated) take part, so a new post that repeats one of them is grouped with
    it, but only posts in scope are written. Returns (groups, posts in them).
    """
    kept = {post.post_id: post for post in posts if post.drop_reason is None}
    texts = {post_id: post.text for post_id, post in kept.items()}
    texts.update(frozen_texts)
    found = near_duplicate_pairs(texts, options.near_duplicate_jaccard, method=options.near_duplicate_search)
    pairs = [(a, b) for a, b, _ in found]
    order = {post.post_id: index for index, post in enumerate(posts)}
    groups = [group for group in group_pairs(texts, pairs) if len(group) > 1]
    for group in groups:
        group_id = group[0]
        # Keeper: an annotated member if there is one, else the earliest crawled.
        keeper = min(group, key=lambda post_id: (post_id not in frozen_texts, order.get(post_id, -1), post_id))
        for post_id in group:
            if post_id in kept:
                kept[post_id].dup_group = group_id
                if options.keep_one_per_group and post_id != keeper:
                    kept[post_id].drop_reason = "near_duplicate"
    return len(groups), sum(len(group) for group in groups)


# Posts in scope: crawled, cleaned, ready, and the ones this stage dropped itself.
_SCOPE = f"""FROM posts p LEFT JOIN clean_posts c ON c.post_id = p.post_id
             WHERE p.status IN ({",".join("?" * len(IN_SCOPE))})
                OR (p.status = 'dropped' AND c.drop_reason IS NOT NULL AND c.drop_reason = p.drop_reason)"""


# A dry run never creates the stage's tables (it opens the store read-only); absent, they read as empty.
_NO_CLEAN_TABLES = """WITH clean_posts(post_id, config_hash, cleaned_text, drop_reason, unfit_terms, updated_at)
                           AS (SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0),
                      clean_rule_hits(post_id, rule, hits) AS (SELECT NULL, NULL, NULL WHERE 0) """


def stage_tables(store: Store, *, create: bool) -> str:
    """The SQL prefix for queries on the stage's tables: empty stand-ins when they do not exist yet.

    create: apply the stage's migrations first (a writing run); a dry run never does.
    """
    if create:
        store.migrate(MIGRATIONS)
    return _NO_CLEAN_TABLES if store.pending_migrations(MIGRATIONS) else ""


def posts_in_scope(store: Store) -> int:
    return store.scalar(f"{stage_tables(store, create=False)}SELECT COUNT(*) {_SCOPE}", IN_SCOPE)


def clean_corpus(
    store: Store,
    options: CleanOptions,
    *,
    dry_run: bool = False,
    samples: int = 5,
    progress: Callable[[int], None] | None = None,
) -> CleanReport:
    tables = stage_tables(store, create=not dry_run)
    config_hash = options.fingerprint
    report = CleanReport(dry_run=dry_run, config_hash=config_hash)
    rows = store.query(
        f"""{tables}SELECT p.post_id, p.original_text, p.text, p.status, p.drop_reason, p.dup_group,
                   c.cleaned_text, c.drop_reason AS clean_reason, c.unfit_terms, c.config_hash
            {_SCOPE} ORDER BY p.rowid""",
        IN_SCOPE,
    )
    old_hits: dict[str, dict[str, int]] = {}
    for hit in store.query(f"{tables}SELECT post_id, rule, hits FROM clean_rule_hits"):
        old_hits.setdefault(hit["post_id"], {})[hit["rule"]] = hit["hits"]

    posts: list[CleanedPost] = []
    for row in rows:
        posts.append(clean_post(row["post_id"], row["original_text"], options))
        if progress is not None:
            progress(1)
    frozen = store.query(
        f"""{tables}SELECT p.post_id, p.original_text, p.text, c.config_hash FROM posts p
            LEFT JOIN clean_posts c ON c.post_id = p.post_id
            WHERE p.status IN ({",".join("?" * len(FROZEN))}) ORDER BY p.rowid""",
        FROZEN,
    )
    report.duplicate_groups, report.posts_in_duplicate_groups = assign_duplicate_groups(
        posts, {row["post_id"]: row["text"] for row in frozen}, options
    )
    # Frozen posts this stage cleaned before: would today's settings give them another text?
    for row in frozen:
        if row["config_hash"] is not None and row["config_hash"] != config_hash:
            if clean_text(row["original_text"], options)[0] != row["text"]:
                report.frozen_would_change.append(row["post_id"])

    updates: list[tuple[Any, ...]] = []
    clean_rows: list[tuple[Any, ...]] = []
    hit_posts: list[CleanedPost] = []
    now = utc_now()
    report.posts_in_scope = len(posts)
    for row, post in zip(rows, posts):
        status = "dropped" if post.drop_reason else ("ready" if row["status"] == "ready" else "cleaned")
        unfit_json = json.dumps(post.unfit, ensure_ascii=False, sort_keys=True)
        post_changed = (row["text"], row["status"], row["drop_reason"], row["dup_group"]) != (
            post.text, status, post.drop_reason, post.dup_group
        )
        record_changed = (row["cleaned_text"], row["clean_reason"], row["unfit_terms"], row["config_hash"]) != (
            post.text, post.drop_reason, unfit_json, config_hash
        )
        hits_changed = old_hits.get(post.post_id, {}) != post.hits
        if post_changed:
            updates.append((post.text, status, post.drop_reason, post.dup_group, now, post.post_id))
            if row["status"] == "dropped" and status != "dropped":
                report.restored.append(post.post_id)
        if record_changed or post_changed:
            clean_rows.append((post.post_id, config_hash, post.text, post.drop_reason, unfit_json, now))
        if hits_changed:
            hit_posts.append(post)
        if post_changed or record_changed or hits_changed:
            report.posts_changed += 1
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if post.drop_reason:
            report.dropped[post.drop_reason] = report.dropped.get(post.drop_reason, 0) + 1
        if post.text != post.original_text:
            report.texts_changed += 1
        for rule, count in post.hits.items():
            totals = report.rules.setdefault(rule, {"posts": 0, "changes": 0})
            totals["posts"] += 1
            totals["changes"] += count
    report.samples = pick_samples(posts, options, samples)
    report.gold_with_private_data = list(private_data_by_post(store, options.redact_kinds, ("gold",)))

    if not dry_run:
        with stage_lock(store.path.parent, "clean"), store.transaction() as connection:
            store.record_cleaning(updates)
            connection.executemany(
                "INSERT INTO clean_posts (post_id, config_hash, cleaned_text, drop_reason, unfit_terms, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (post_id) DO UPDATE SET config_hash = excluded.config_hash,"
                " cleaned_text = excluded.cleaned_text, drop_reason = excluded.drop_reason,"
                " unfit_terms = excluded.unfit_terms, updated_at = excluded.updated_at",
                clean_rows,
            )
            for post in hit_posts:
                fault_point("clean.write")
                connection.execute("DELETE FROM clean_rule_hits WHERE post_id = ?", (post.post_id,))
                connection.executemany(
                    "INSERT INTO clean_rule_hits (post_id, rule, hits) VALUES (?, ?, ?)",
                    [(post.post_id, rule, count) for rule, count in sorted(post.hits.items())],
                )
            if report.posts_changed:  # like `images`: a run that changes nothing leaves no trace
                store.log_event(
                    "clean", "run", f"cleaned {len(posts)} posts, {report.posts_changed} changed",
                    config_hash=config_hash, posts=len(posts), changed=report.posts_changed, dropped=report.dropped,
                    rules={rule: totals["changes"] for rule, totals in report.rules.items()},
                )
    return report


def pick_samples(posts: list[CleanedPost], options: CleanOptions, limit: int) -> list[dict[str, Any]]:
    """Before/after examples: the first post each rule changed (in rule order), then the first of each drop."""
    chosen: list[CleanedPost] = []
    order = [rule.name for rule in options.rules] + [f"pii:{kind}" for kind in options.redact_kinds]
    for rule in order:
        post = next((p for p in posts if rule in p.hits and p not in chosen), None)
        if post is not None:
            chosen.append(post)
    for reason in sorted({p.drop_reason for p in posts if p.drop_reason}):
        post = next((p for p in posts if p.drop_reason == reason), None)
        if post is not None and post not in chosen:
            chosen.append(post)
    return [
        {"post_id": p.post_id, "before": p.original_text, "after": p.text, "rules": p.hits, "drop_reason": p.drop_reason}
        for p in chosen[:limit]
    ]
