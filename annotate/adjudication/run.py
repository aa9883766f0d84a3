"""`cmner-build adjudicate`: merge the versions, settle what the majority decides, apply decisions.

The flow (docs/agreement.md, "Adjudication"): every post that all its annotators confirmed is merged (majority spans,
typed conflict clusters, suggestions); posts without an open conflict are settled at once (gold = the
majority spans); open conflicts wait for the adjudicator (terminal review, or a Doccano project whose
export `adjudicate pull` applies), or are decided by the `--auto majority` policy (the suggestion,
with reason code `auto_majority`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from cmner_build.errors import CmnerError
from cmner_build.model import validate_spans
from cmner_build.store import Store
from cmner_build.safety import holds_stage_lock

from cmner_build.annotate.rounds import ANNOTATE_LOCK
from cmner_build.annotate.adjudication.doccano import ExportLine
from cmner_build.annotate.adjudication.merge import CONFLICT_TYPES, merge_post
from cmner_build.annotate.adjudication.store import (
    StoredPost,
    SyncReport,
    load_posts,
    record_decision,
    settle_decided,
    settle_post,
    sync_merges,
)
from cmner_build.annotate.agreement.data import load_annotated_posts, latest_version_per_post
from cmner_build.annotate.settings import AUTO_MAJORITY_REASON

AUTO_POLICIES: tuple[str, ...] = ("majority",)


@dataclass
class AdjudicationSummary:
    posts: int = 0  # posts in scope with every version confirmed
    incomplete: int = 0  # posts some annotator has not confirmed yet (not merged)
    sync: SyncReport = field(default_factory=SyncReport)
    settled_now: dict[str, str] = field(default_factory=dict)  # post_id -> 'gold' | 'dropped'
    auto_decided: int = 0
    clusters_by_type: dict[str, int] = field(default_factory=dict)  # every cluster of the posts in scope
    open_by_type: dict[str, int] = field(default_factory=dict)
    open_posts: int = 0
    settled_total: int = 0
    post_ids: list[str] = field(default_factory=list)  # the posts in scope (latest complete version of each)

    def to_dict(self) -> dict:
        return {
            "posts": self.posts,
            "incomplete": self.incomplete,
            "added": self.sync.added,
            "remerged": self.sync.remerged,
            "changed_after_settling": self.sync.changed_after_settling,
            "skipped_dropped": self.sync.skipped_dropped,
            "settled_now": self.settled_now,
            "auto_decided": self.auto_decided,
            "clusters_by_type": self.clusters_by_type,
            "open_clusters_by_type": self.open_by_type,
            "open_posts": self.open_posts,
            "settled_posts": self.settled_total,
        }


@holds_stage_lock(ANNOTATE_LOCK)
def merge_and_settle(store: Store, min_votes: int, batch_id: str | None = None, auto: str | None = None) -> AdjudicationSummary:
    """Merge every complete post, settle those without open conflicts (after the auto policy, if any)."""
    if auto is not None and auto not in AUTO_POLICIES:
        raise ValueError(f"unknown auto policy {auto!r}")
    annotated = load_annotated_posts(store, "all", batch_id)
    latest = latest_version_per_post(annotated.posts)
    summary = AdjudicationSummary(posts=len(latest), incomplete=annotated.incomplete,
                                  post_ids=[post.post_id for post in latest])
    summary.sync = sync_merges(store, [merge_post(post, min_votes) for post in latest])
    stored = load_posts(store, post_ids=summary.post_ids)
    if auto == "majority":
        with store.transaction():
            for post in stored:
                if post.state != "open":
                    continue
                for cluster in post.open_clusters:
                    record_decision(store, post.merged.post_id, cluster.number, cluster.suggestion,
                                    AUTO_MAJORITY_REASON, "", "auto_majority")
                    summary.auto_decided += 1
        stored = load_posts(store, post_ids=summary.post_ids)
    summary.settled_now = settle_decided(store, stored)
    fill_counts(summary, load_posts(store, post_ids=summary.post_ids))
    return summary


def fill_counts(summary: AdjudicationSummary, posts: Sequence[StoredPost]) -> None:
    """Cluster counts by type (all, still open) and post counts (open, settled) of these posts."""
    every, still_open = Counter(), Counter()
    for post in posts:
        for cluster in post.merged.clusters:
            every[cluster.conflict_type] += 1
        if post.state == "open":
            for cluster in post.open_clusters:
                still_open[cluster.conflict_type] += 1
    summary.clusters_by_type = {kind: every[kind] for kind in CONFLICT_TYPES}
    summary.open_by_type = {kind: still_open[kind] for kind in CONFLICT_TYPES}
    summary.open_posts = sum(1 for post in posts if post.state == "open")
    summary.settled_total = sum(1 for post in posts if post.state == "settled")


@dataclass
class PullReport:
    settled: dict[str, str] = field(default_factory=dict)  # post_id -> 'gold' | 'dropped'
    undecided: list[str] = field(default_factory=list)  # lines without a reason for every open conflict
    already_settled: list[str] = field(default_factory=list)
    unknown_posts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines that could not be applied, with why
    unknown_reasons: list[str] = field(default_factory=list)  # codes not in the configured list (kept)
    majority_overridden: list[str] = field(default_factory=list)  # posts where the adjudicator changed a majority span

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@holds_stage_lock(ANNOTATE_LOCK)
def apply_adjudicator_lines(store: Store, lines: Sequence[ExportLine], reason_codes: Sequence[str]) -> PullReport:
    """Settle each post whose export line carries a reason for every open conflict; gold = the line's spans."""
    report = PullReport()
    by_id = {post.merged.post_id: post for post in load_posts(store, post_ids=[line.post_id for line in lines])}
    for line in lines:
        post = by_id.get(line.post_id)
        where = f"{line.source}:{line.line}"
        if post is None:
            report.unknown_posts.append(line.post_id)
            continue
        if post.state == "settled":
            report.already_settled.append(line.post_id)
            continue
        if line.text != post.merged.text:
            report.problems.append(f"{where}: post {line.post_id}: the text differs from the text that was merged")
            continue
        if line.problem is not None:
            report.problems.append(f"{where}: post {line.post_id}: {line.problem}")
            continue
        reasons = {}
        for cluster in post.open_clusters:
            reason = line.cluster_reasons.get(cluster.number) or line.general_reason
            if reason is not None:
                reasons[cluster.number] = reason
        if len(reasons) < len(post.open_clusters):
            report.undecided.append(line.post_id)
            continue
        problems = validate_spans(post.merged.text, line.spans)
        if problems:
            report.problems.append(f"{where}: post {line.post_id}: {'; '.join(problems)}")
            continue
        for code, _ in reasons.values():
            if code not in reason_codes and code not in report.unknown_reasons:
                report.unknown_reasons.append(code)
        try:
            with store.transaction():
                for cluster in post.open_clusters:
                    code, note = reasons[cluster.number]
                    inside = [span for span in line.spans if cluster.start < span.end and span.start < cluster.end]
                    record_decision(store, line.post_id, cluster.number, inside, code, note, "doccano")
                removed = sorted(set(post.merged.accepted) - set(line.spans))
                if removed:
                    store.log_event("adjudicate", "majority_overridden",
                                    "the adjudicator removed or changed majority spans", post_id=line.post_id,
                                    removed=[[s.start, s.end, s.label] for s in removed])
                report.settled[line.post_id] = settle_post(store, post, line.spans, "doccano")
        except CmnerError as error:  # rolled back: the post stays open
            report.problems.append(f"{where}: {error}")
            continue
        if removed:
            report.majority_overridden.append(line.post_id)
    return report
