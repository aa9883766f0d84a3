"""Review of the gold audit's findings through the adjudication machinery (`audit labels --doccano`).

Each flagged post becomes an open adjudication post whose two "versions" are the current gold
(alias `gold`) and the gold with every suggested fix applied (alias `audit`): spans no issue touches are
accepted, and each group of overlapping issues is a conflict cluster whose suggestion is the audit's.
`adjudicate --doccano`'s `push_to_server` then sends them to the reviewer exactly like annotation
conflicts (suggestions pre-filled, the gold in the meta as `version_gold`), and `adjudicate pull`
applies the decisions: the reviewer's spans become the gold (source `adjudication`), each cluster keeps
its reason code, and the event log keeps the gold it replaced.

The rows carry batch id `AUDIT_BATCH`, so a later `adjudicate` never merges them again from annotations,
and `agreement --vs-gold` does not take `gold` / `audit` for annotators. A post already waiting in an
adjudication project is left there; a post whose earlier adjudication was settled gets a new review
round (its earlier decision stays in the event log).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from cmner_build.model import Span
from cmner_build.store import Store, utc_now

from cmner_build.annotate.adjudication.merge import Candidate, Cluster, MergedPost, conflict_type
from cmner_build.annotate.adjudication.store import AUDIT_BATCH, _insert, load_posts

GOLD, AUDIT = "gold", "audit"


class Flagged(Protocol):
    """What a review needs of a gold-audit issue (`cmner_build.label_issues.LabelIssue`)."""

    post_id: str
    start: int
    end: int
    gold: list[Span]
    suggestion: list[Span]


@dataclass
class PlanResult:
    post_ids: list[str] = field(default_factory=list)  # posts opened for review now
    already_open: list[str] = field(default_factory=list)  # waiting for an earlier adjudication or review
    missing: list[str] = field(default_factory=list)  # not gold any more (or no longer in the store)


def _groups(issues: Sequence[Flagged]) -> list[tuple[int, int, list[Flagged]]]:
    """Issues of one post grouped by overlapping stretches, in text order."""
    groups: list[tuple[int, int, list[Flagged]]] = []
    for issue in sorted(issues, key=lambda i: (i.start, i.end)):
        if groups and issue.start < groups[-1][1]:
            start, end, members = groups[-1]
            groups[-1] = (start, max(end, issue.end), members + [issue])
        else:
            groups.append((issue.start, issue.end, [issue]))
    return groups


def review_post(post_id: str, text: str, gold: Sequence[Span], issues: Sequence[Flagged]) -> MergedPost:
    """The adjudication view of one flagged post: gold vs. gold-with-fixes, one cluster per issue group."""
    gold = sorted(set(gold))
    clusters: list[Cluster] = []
    fixed: set[Span] = set(gold)
    for number, (start, end, members) in enumerate(_groups(issues), start=1):
        before = {span for span in gold if span.start < end and start < span.end}
        for member in members:
            before |= set(member.gold)
        after = {span for member in members for span in member.suggestion}
        lo = min([start] + [s.start for s in before | after])
        hi = max([end] + [s.end for s in before | after])
        fixed = (fixed - before) | after
        candidates = sorted(
            [Candidate(s, (AUDIT, GOLD) if s in after else (GOLD,)) for s in before]
            + [Candidate(s, (AUDIT,)) for s in after if s not in before],
            key=lambda c: (c.span.start, c.span.end, c.span.label))
        silent = [alias for alias, spans in ((GOLD, before), (AUDIT, after)) if not spans]
        clusters.append(Cluster(number, lo, hi, conflict_type(candidates) if candidates else "presence",
                                candidates, silent, sorted(after)))
    touched = [(c.start, c.end) for c in clusters]
    accepted = [s for s in gold if not any(s.start < hi and lo < s.end for lo, hi in touched)]
    versions = {GOLD: gold, AUDIT: sorted(fixed)}
    payload = json.dumps({"text": text, "versions": {k: [[s.start, s.end, s.label] for s in v] for k, v in versions.items()}},
                         ensure_ascii=False, sort_keys=True)
    return MergedPost(AUDIT_BATCH, post_id, text, {GOLD: GOLD, AUDIT: AUDIT}, 1,
                      hashlib.sha256(payload.encode("utf-8")).hexdigest(), versions, accepted, [], clusters)


def open_for_review(store: Store, issues: Sequence[Flagged]) -> PlanResult:
    """Store one open adjudication post per flagged gold post (see the module docstring)."""
    result = PlanResult()
    by_post: dict[str, list[Flagged]] = {}
    for issue in issues:
        by_post.setdefault(issue.post_id, []).append(issue)
    existing = {row["post_id"]: row["state"] for row in store.query("SELECT post_id, state FROM adjudication_posts")}
    texts = {row["post_id"]: row["text"] for row in store.query("SELECT post_id, text FROM posts WHERE status = 'gold'")}
    gold = store.gold_spans(by_post)
    with store.transaction():
        for post_id, flagged in by_post.items():
            if post_id not in texts:
                result.missing.append(post_id)
                continue
            if existing.get(post_id) == "open":
                result.already_open.append(post_id)
                continue
            if post_id in existing:  # settled earlier: the new review round replaces the row, the log keeps it
                old = store.query("SELECT * FROM adjudication_posts WHERE post_id = ?", (post_id,))[0]
                store.log_event("audit", "reopened", "a settled adjudication reopened for the gold audit's review",
                                post_id=post_id, previous={key: old[key] for key in old.keys()})
                store.execute("DELETE FROM adjudication_posts WHERE post_id = ?", (post_id,))
            _insert(store, review_post(post_id, texts[post_id], gold.get(post_id, []), flagged))
            result.post_ids.append(post_id)
        store.log_event("audit", "review", f"{len(result.post_ids)} flagged posts opened for review",
                        post_ids=result.post_ids, updated_at=utc_now())
    return result


def send_for_review(workspace: Any, issues: Sequence[Flagged], adjudicator: str | None = None,
                    url: str | None = None) -> dict[str, Any]:
    """Open the flagged posts for review and send them to an adjudication project on the Doccano server
    (the reviewer's account is created if needed, as with `adjudicate --doccano`). Returns the push
    result of `adjudicate --doccano` with the review plan's counts added."""
    from cmner_build.errors import CmnerError

    from cmner_build.annotate.adjudication.entry import connect_server
    from cmner_build.annotate.adjudication.server import push_to_server
    from cmner_build.annotate.settings import agreement_settings, annotate_settings

    settings = agreement_settings(workspace.settings)
    name = adjudicator or settings.adjudicator
    if not name:
        raise CmnerError("name the reviewer: --adjudicator USERNAME or [agreement] adjudicator in cmner.toml")
    store = workspace.store
    plan = open_for_review(store, issues)
    with connect_server(workspace, url, "export the report and review it in the HTML page instead") as server:
        pushed = push_to_server(store, server, load_posts(store, state="open", post_ids=plan.post_ids), name,
                                settings.reason_codes, annotate_settings(workspace).project_prefix)
    return {**pushed.__dict__, "already_out": sorted(set(pushed.already_out) | set(plan.already_open)),
            "not_gold": plan.missing}
