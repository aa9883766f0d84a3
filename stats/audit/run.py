"""`cmner-build audit labels`, the stats stage's part: run the consistency signal over the gold, combine it
with the issues of other signals (confident learning comes from the baselines stage, passed in as plain
`LabelIssue`s), write the ranked report (JSONL + HTML) and record a summary event that the dataset card
reads."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from cmner_build.errors import CmnerError
from cmner_build.export import load_gold_posts
from cmner_build.label_issues import LabelIssue, combine
from cmner_build.model import Span
from cmner_build.store import Store

from cmner_build.stats.audit.consistency import SIGNAL as CONSISTENCY, consistency_issues
from cmner_build.stats.audit.report import issue_rows, write_html, write_jsonl
from cmner_build.stats.audit.settings import AuditSettings

STAGE = "audit"
EVENT_KIND = "labels"  # the event the dataset card reads
SUMMARY_ROWS = 20  # top items kept in the event


@dataclass
class AuditOutcome:
    ranked: list[LabelIssue]  # all signals combined, best first
    by_signal: dict[str, list[LabelIssue]]  # each signal's own ranking
    texts: dict[str, str]
    gold: dict[str, list[Span]]
    jsonl: Path
    html: Path
    summary: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def audit_labels(store: Store, out_dir: Path, settings: AuditSettings, *, consistency: bool = True,
                 other_signals: Mapping[str, Sequence[LabelIssue]] | None = None,
                 signal_info: Mapping[str, dict] | None = None) -> AuditOutcome:
    """Audit the gold posts of the store; `other_signals` are rankings computed elsewhere (by signal name)."""
    posts = load_gold_posts(store)
    if not posts:
        raise CmnerError("no gold posts to audit: import a release or adjudicate annotations first")
    by_signal: dict[str, list[LabelIssue]] = {}
    seconds: dict[str, float] = {}
    if consistency:
        started = time.perf_counter()
        by_signal[CONSISTENCY] = consistency_issues(posts, min_chars=settings.min_chars,
                                                    min_support=settings.min_support)
        seconds[CONSISTENCY] = round(time.perf_counter() - started, 2)
    for name, issues in (other_signals or {}).items():
        by_signal[name] = sorted(issues, key=lambda issue: -issue.score)
    if not by_signal:
        raise CmnerError("no audit signal to run")
    ranked = combine(list(by_signal.values())) if len(by_signal) > 1 else [
        LabelIssue(**{**issue.__dict__, "signals": [issue.signal]}) for issue in next(iter(by_signal.values()))]
    texts = {post.post_id: post.text for post in posts}
    gold = {post.post_id: list(post.spans) for post in posts}
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = issue_rows(ranked, texts)
    outcome = AuditOutcome(ranked, by_signal, texts, gold, out_dir / "label_issues.jsonl", out_dir / "label_issues.html",
                           seconds=seconds)
    write_jsonl(outcome.jsonl, rows)
    for name, issues in by_signal.items():
        write_jsonl(out_dir / f"label_issues.{name}.jsonl", issue_rows(issues, texts))
    write_html(outcome.html, ranked, texts, gold, f"Gold audit: {len(ranked)} likely label issues")
    outcome.summary = {
        "posts": len(posts),
        "entities": sum(len(post.spans) for post in posts),
        "signals": {
            name: {"issues": len(issues), "by_kind": dict(Counter(issue.kind for issue in issues)),
                   "posts": len({issue.post_id for issue in issues}), **dict((signal_info or {}).get(name, {}))}
            for name, issues in by_signal.items()
        },
        "combined": len(ranked),
        "flagged_by_every_signal": sum(1 for issue in ranked if len(issue.signals) == len(by_signal)) if len(by_signal) > 1 else None,
        "top": rows[:SUMMARY_ROWS],
        "files": [str(outcome.jsonl), str(outcome.html)],
    }
    with store.transaction():
        store.log_event(STAGE, EVENT_KIND, f"{len(ranked)} likely label issues in {len(posts)} gold posts",
                        **outcome.summary)
    return outcome


def latest_audit(store: Store) -> dict | None:
    """The summary of the last `audit labels` run, or None when the gold was never audited."""
    import json

    rows = store.query("SELECT at, data FROM events WHERE stage = ? AND kind = ? ORDER BY event_id DESC LIMIT 1",
                       (STAGE, EVENT_KIND))
    if not rows:
        return None
    return {"at": rows[0]["at"], **json.loads(rows[0]["data"])}
