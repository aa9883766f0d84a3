"""Merged posts, conflict clusters and decisions in the store; settling a post writes its gold.

A settled post is final: re-running `adjudicate` keeps it, even if its annotations changed since
(that is reported, never silently redone). An open post whose versions or voting rule changed is
merged again and loses the decisions it had, which is reported too.

Settling writes, in one transaction: gold_spans (source 'adjudication'), the post status ('gold', or
'dropped' with reason 'no_entities' when the gold has no entity, as the paper did) and an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.model import Span, validate_spans
from cmner_build.safety import fault_point
from cmner_build.store import Store, utc_now

from cmner_build.annotate.adjudication.merge import Candidate, Cluster, MergedPost, spans_from_json, spans_to_json
from cmner_build.annotate.agreement.data import AnnotatedPost

DECISION_SOURCES: tuple[str, ...] = ("interactive", "doccano", "auto_majority")
NO_ENTITIES = "no_entities"
# Batch id of the posts the gold audit opens for review (audit_review.py): never re-merged from
# annotations, and their "versions" (gold / audit) are no annotators.
AUDIT_BATCH = "gold-audit"


@dataclass
class Decision:
    spans: list[Span]
    reason: str
    note: str
    via: str


@dataclass
class StoredPost:
    merged: MergedPost
    state: str
    decisions: dict[int, Decision] = field(default_factory=dict)
    gold: list[Span] | None = None

    @property
    def open_clusters(self) -> list[Cluster]:
        return [cluster for cluster in self.merged.clusters if cluster.number not in self.decisions]


@dataclass
class SyncReport:
    added: int = 0
    unchanged: int = 0
    remerged: list[str] = field(default_factory=list)  # open posts merged again (their decisions dropped)
    changed_after_settling: list[str] = field(default_factory=list)
    skipped_dropped: list[str] = field(default_factory=list)  # dropped by another stage: not resurrected


def _insert(store: Store, merged: MergedPost) -> None:
    now = utc_now()
    store.execute(
        "INSERT INTO adjudication_posts (post_id, batch_id, text, aliases, min_votes, input_hash, versions, accepted,"
        " outvoted, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (merged.post_id, merged.batch_id, merged.text, json.dumps(merged.aliases, ensure_ascii=False),
         merged.min_votes, merged.input_hash,
         json.dumps({alias: spans_to_json(spans) for alias, spans in merged.versions.items()}),
         json.dumps(spans_to_json(merged.accepted)),
         json.dumps([c.to_json() for c in merged.outvoted]), now),
    )
    store.connection.executemany(
        "INSERT INTO adjudication_clusters (post_id, number, start, end, conflict_type, candidates, silent, suggestion)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(merged.post_id, c.number, c.start, c.end, c.conflict_type, json.dumps([x.to_json() for x in c.candidates]),
          json.dumps(c.silent), json.dumps(spans_to_json(c.suggestion))) for c in merged.clusters],
    )


def sync_merges(store: Store, merged_posts: Sequence[MergedPost]) -> SyncReport:
    """Store new merges, keep unchanged and settled ones, redo open ones whose input changed."""
    report = SyncReport()
    existing = {row["post_id"]: row for row in store.query("SELECT post_id, batch_id, input_hash, state FROM adjudication_posts")}
    status = {row["post_id"]: (row["status"], row["drop_reason"])
              for row in store.query("SELECT post_id, status, drop_reason FROM posts")}
    with store.transaction():
        for merged in merged_posts:
            post_status, drop_reason = status.get(merged.post_id, (None, None))
            row = existing.get(merged.post_id)
            if post_status == "dropped" and drop_reason != NO_ENTITIES and row is None:
                report.skipped_dropped.append(merged.post_id)
                continue
            if row is None:
                _insert(store, merged)
                report.added += 1
            elif row["input_hash"] == merged.input_hash:
                report.unchanged += 1
            elif row["state"] == "settled" or row["batch_id"] == AUDIT_BATCH:
                report.changed_after_settling.append(merged.post_id)
            else:
                store.execute("DELETE FROM adjudication_posts WHERE post_id = ?", (merged.post_id,))
                _insert(store, merged)
                report.remerged.append(merged.post_id)
                store.log_event("adjudicate", "remerged", "versions or min_votes changed; merged again",
                                post_id=merged.post_id)
    return report


def load_posts(store: Store, state: str | None = None, post_ids: Iterable[str] | None = None) -> list[StoredPost]:
    """Stored merges with their clusters and decisions, in the order they were added."""
    wanted = None if post_ids is None else set(post_ids)
    clusters: dict[str, list[Cluster]] = {}
    decisions: dict[str, dict[int, Decision]] = {}
    for row in store.query("SELECT * FROM adjudication_clusters ORDER BY post_id, number"):
        if wanted is not None and row["post_id"] not in wanted:
            continue
        clusters.setdefault(row["post_id"], []).append(Cluster(
            row["number"], row["start"], row["end"], row["conflict_type"],
            [Candidate.from_json(c) for c in json.loads(row["candidates"])], json.loads(row["silent"]),
            spans_from_json(json.loads(row["suggestion"])),
        ))
        if row["decision"] is not None:
            decisions.setdefault(row["post_id"], {})[row["number"]] = Decision(
                spans_from_json(json.loads(row["decision"])), row["reason"], row["note"] or "", row["decided_via"]
            )
    posts = []
    for row in store.query("SELECT * FROM adjudication_posts ORDER BY rowid"):
        if (wanted is not None and row["post_id"] not in wanted) or (state is not None and row["state"] != state):
            continue
        merged = MergedPost(
            row["batch_id"], row["post_id"], row["text"], json.loads(row["aliases"]), row["min_votes"],
            row["input_hash"],
            {alias: spans_from_json(spans) for alias, spans in json.loads(row["versions"]).items()},
            spans_from_json(json.loads(row["accepted"])),
            [Candidate.from_json(c) for c in json.loads(row["outvoted"])], clusters.get(row["post_id"], []),
        )
        gold = None if row["gold"] is None else spans_from_json(json.loads(row["gold"]))
        posts.append(StoredPost(merged, row["state"], decisions.get(row["post_id"], {}), gold))
    return posts


def record_decision(store: Store, post_id: str, number: int, spans: Sequence[Span], reason: str, note: str,
                    via: str) -> None:
    if via not in DECISION_SOURCES:
        raise ValueError(f"unknown decision source {via!r}")
    store.execute(
        "UPDATE adjudication_clusters SET decision = ?, reason = ?, note = ?, decided_via = ?, decided_at = ?"
        " WHERE post_id = ? AND number = ?",
        (json.dumps(spans_to_json(spans)), reason, note or None, via, utc_now(), post_id, number),
    )


def settle_post(store: Store, post: StoredPost, gold: Sequence[Span], via: str) -> str:
    """Write the gold of a post and its status; returns the new status ('gold' or 'dropped')."""
    gold = sorted(set(gold))
    problems = validate_spans(post.merged.text, gold)
    if problems:
        raise CmnerError(f"post {post.merged.post_id}: the adjudicated spans are not valid: {'; '.join(problems)}")
    current = store.query("SELECT text FROM posts WHERE post_id = ?", (post.merged.post_id,))
    if not current:
        raise CmnerError(f"post {post.merged.post_id} is no longer in the store")
    if current[0]["text"] != post.merged.text:
        # Gold offsets must refer to the post's current text, which export tokenises.
        raise CmnerError(f"post {post.merged.post_id}: its text changed after it was pushed; "
                         "push and annotate it again before adjudicating")
    previous = store.query("SELECT start, end, label, source FROM gold_spans WHERE post_id = ?",
                           (post.merged.post_id,))
    with store.transaction():
        store.replace_gold_spans(post.merged.post_id, gold, "adjudication")
        status = "gold" if gold else "dropped"
        store.set_status(post.merged.post_id, status, None if gold else NO_ENTITIES)
        store.execute(
            "UPDATE adjudication_posts SET state = 'settled', gold = ?, settled_via = ?, settled_at = ?, updated_at = ?"
            " WHERE post_id = ?",
            (json.dumps(spans_to_json(gold)), via, utc_now(), utc_now(), post.merged.post_id),
        )
        replaced = [dict(row) for row in previous if row["source"] != "adjudication"]
        store.log_event("adjudicate", "settled", f"{len(gold)} gold spans ({via})", post_id=post.merged.post_id,
                        gold=spans_to_json(gold), replaced_gold=replaced)
    fault_point("adjudicate.settled")
    post.state, post.gold = "settled", gold
    return status


def gold_from_decisions(post: StoredPost) -> list[Span]:
    """Accepted spans plus every cluster's decision (call when no cluster is open)."""
    spans = list(post.merged.accepted)
    for decision in post.decisions.values():
        spans.extend(decision.spans)
    return sorted(set(spans))


def settle_decided(store: Store, posts: Iterable[StoredPost]) -> dict[str, str]:
    """Settle every open post with no open cluster left (majority-only posts included). post_id -> status."""
    settled = {}
    for post in posts:
        if post.state != "open" or post.open_clusters:
            continue
        vias = sorted({decision.via for decision in post.decisions.values()}) or ["majority"]
        settled[post.merged.post_id] = settle_post(store, post, gold_from_decisions(post), "+".join(vias))
    return settled


def settled_versions(store: Store, batch_id: str | None = None) -> tuple[list[AnnotatedPost], dict[str, list[Span]]]:
    """The annotators' versions (real usernames) and the gold of every settled post: for `agreement --vs-gold`."""
    posts, gold = [], {}
    for post in load_posts(store, state="settled"):
        if post.merged.batch_id == AUDIT_BATCH or (batch_id is not None and post.merged.batch_id != batch_id):
            continue
        versions = {post.merged.aliases[alias]: tuple(spans) for alias, spans in post.merged.versions.items()}
        posts.append(AnnotatedPost(post.merged.batch_id, post.merged.post_id, post.merged.text, versions))
        gold[post.merged.post_id] = list(post.gold or [])
    return posts, gold
