"""Interactive adjudication in the terminal, one conflict cluster at a time (for small sets).

For each open cluster the adjudicator sees the text around it, the candidate spans with the
anonymised annotators who marked them, who marked nothing, and the suggestion; then answers:

    1 / 1,3     keep candidate 1 (or candidates 1 and 3)
    s           keep the suggestion
    n           no entity here
    e 上海迪士尼乐园 LOC [; 北京 LOC]   your own span(s): the text as it appears near the cluster, and a label
    q           stop (decisions so far are kept; run again to continue)

and then a reason code (its number or name), optionally followed by a note. Every decision is
committed at once; a post is settled as soon as its last cluster is decided. `ask` returns None at
the end of input, which stops the review like `q`, so the review can be driven from a file or a pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from cmner_build.model import LABELS, Span
from cmner_build.store import Store

from cmner_build.annotate.adjudication.merge import Cluster
from cmner_build.annotate.adjudication.store import StoredPost, load_posts, record_decision, settle_decided

CONTEXT_CHARS = 20
HELP = ("answer: a candidate number (or several: 1,3), s = suggestion, n = no entity, "
        "e TEXT LABEL = your own span (several with ;), q = stop")


@dataclass
class ReviewSummary:
    decided: int = 0
    settled: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    remaining: int = 0


def _show_span(text: str, span: Span) -> str:
    return f"{span.text_of(text)} {span.label} [{span.start},{span.end})"


def cluster_view(post: StoredPost, cluster: Cluster, position: int, total: int) -> list[str]:
    text = post.merged.text
    left = max(0, cluster.start - CONTEXT_CHARS)
    right = min(len(text), cluster.end + CONTEXT_CHARS)
    window = (("…" if left else "") + text[left:cluster.start] + "【" + text[cluster.start:cluster.end] + "】"
              + text[cluster.end:right] + ("…" if right < len(text) else ""))
    lines = [
        f"── conflict {position}/{total}: post {post.merged.post_id} (batch {post.merged.batch_id}), "
        f"cluster {cluster.number}, {cluster.conflict_type}",
        f"   {window}",
    ]
    if post.merged.accepted:
        lines.append("   majority: " + "; ".join(_show_span(text, span) for span in post.merged.accepted))
    for number, candidate in enumerate(cluster.candidates, start=1):
        lines.append(f"   {number}) {_show_span(text, candidate.span)}   ← {' '.join(candidate.voters)}")
    if cluster.silent:
        lines.append(f"   n) no entity   ← {' '.join(cluster.silent)}")
    suggestion = "; ".join(_show_span(text, span) for span in cluster.suggestion) or "no entity"
    lines.append(f"   s) suggestion: {suggestion}")
    return lines


def _find_near(text: str, surface: str, cluster: Cluster) -> int | None:
    """Start of the occurrence of `surface` that overlaps the cluster, else of the nearest one."""
    best: tuple[int, int] | None = None
    start = text.find(surface)
    while start != -1 and surface:
        end = start + len(surface)
        distance = 0 if start < cluster.end and cluster.start < end else min(abs(start - cluster.end),
                                                                            abs(cluster.start - end))
        if best is None or distance < best[0]:
            best = (distance, start)
        start = text.find(surface, start + 1)
    return None if best is None else best[1]


def parse_choice(answer: str, post: StoredPost, cluster: Cluster) -> list[Span] | str:
    """The spans chosen, or an error message to show before asking again."""
    answer = answer.strip()
    if answer in ("s", "S"):
        return list(cluster.suggestion)
    if answer in ("n", "N", "0"):
        return []
    if answer[:1] in ("e", "E") and (len(answer) == 1 or answer[1] in " \t"):
        spans = []
        for part in answer[1:].split(";"):
            pieces = part.split()
            if len(pieces) < 2 or pieces[-1].upper() not in LABELS:
                return f"write e TEXT LABEL with a label among {', '.join(LABELS)}"
            surface = " ".join(pieces[:-1])
            start = _find_near(post.merged.text, surface, cluster)
            if start is None:
                return f"{surface!r} does not occur in the post"
            spans.append(Span(start, start + len(surface), pieces[-1].upper()))
        return spans
    numbers = answer.replace(",", " ").split()
    if not numbers or not all(n.isdigit() and 1 <= int(n) <= len(cluster.candidates) for n in numbers):
        return HELP
    return [cluster.candidates[int(n) - 1].span for n in numbers]


def _conflicts(spans: Sequence[Span], taken: Sequence[Span]) -> str | None:
    ordered = sorted(spans)
    for first, second in zip(ordered, ordered[1:]):
        if second.start < first.end:
            return f"{first.label} [{first.start},{first.end}) and {second.label} [{second.start},{second.end}) overlap"
    for span in spans:
        for other in taken:
            if span.start < other.end and other.start < span.end:
                return f"[{span.start},{span.end}) overlaps [{other.start},{other.end}), already in the gold"
    return None


def parse_reason(answer: str, reason_codes: Sequence[str]) -> tuple[str, str] | None:
    pieces = answer.strip().split(maxsplit=1)
    if not pieces:
        return None
    code = pieces[0].lower()
    if code.isdigit() and 1 <= int(code) <= len(reason_codes):
        code = reason_codes[int(code) - 1]
    if code not in reason_codes:
        return None
    return code, pieces[1] if len(pieces) > 1 else ""


def review(
    store: Store,
    posts: Sequence[StoredPost],
    ask: Callable[[str], str | None],
    say: Callable[[str], None],
    reason_codes: Sequence[str],
) -> ReviewSummary:
    summary = ReviewSummary()
    queue = [(post, cluster) for post in posts if post.state == "open" for cluster in post.open_clusters]
    reason_menu = ", ".join(f"{i} {code}" for i, code in enumerate(reason_codes, start=1))
    for position, (post, cluster) in enumerate(queue, start=1):
        for line in cluster_view(post, cluster, position, len(queue)):
            say(line)
        taken = list(post.merged.accepted) + [span for d in post.decisions.values() for span in d.spans]
        while True:
            answer = ask("choice")
            if answer is None or answer.strip().lower() == "q":
                summary.stopped = True
                summary.remaining = len(queue) - position + 1
                return summary
            chosen = parse_choice(answer, post, cluster)
            problem = chosen if isinstance(chosen, str) else _conflicts(chosen, taken)
            if problem is None:
                break
            say(f"   ! {problem}")
        while True:
            answer = ask(f"reason ({reason_menu}) [note]")
            if answer is None:
                summary.stopped = True
                summary.remaining = len(queue) - position + 1
                return summary
            reason = parse_reason(answer, reason_codes)
            if reason is not None:
                break
            say(f"   ! a reason code is required: {reason_menu}")
        with store.transaction():
            record_decision(store, post.merged.post_id, cluster.number, chosen, reason[0], reason[1], "interactive")
        summary.decided += 1
        fresh = load_posts(store, post_ids=[post.merged.post_id])
        if fresh and not fresh[0].open_clusters:
            summary.settled.update(settle_decided(store, fresh))
            status = summary.settled.get(post.merged.post_id)
            say(f"   post {post.merged.post_id} settled: {status}")
        elif fresh:
            post.decisions = fresh[0].decisions
    return summary
