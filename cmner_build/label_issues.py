"""A likely label error in the gold, as every audit signal reports it, and how signals are combined.

The consistency audit (stats stage) and confident learning (baselines stage) both produce
`LabelIssue`s; they meet here and in the store, never by importing each other. Offsets are code points
into the post text, end exclusive, like every span of cmner-build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .model import Span

SIGNALS: tuple[str, ...] = ("consistency", "confident_learning")
# What the issue is about; the suggestion says what the stretch [start, end) should hold instead.
KINDS: tuple[str, ...] = (
    "type",  # the same surface string is labelled with another type elsewhere
    "missed",  # a string labelled elsewhere is left unlabelled here
    "boundary",  # the span cuts through (or spills over) what the corpus labels as one entity
    "model",  # the cross-validated model disagrees with the gold here
)


@dataclass
class LabelIssue:
    post_id: str
    signal: str
    kind: str
    start: int  # the stretch of text concerned
    end: int
    gold: list[Span]  # the gold spans of the post that touch the stretch
    suggestion: list[Span]  # what the stretch should hold instead ([] = no entity)
    score: float  # higher is more likely wrong; comparable within one signal
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    signals: list[str] = field(default_factory=list)  # filled by `combine`: every signal that flagged it

    def fix(self, text: str) -> str:
        """The suggested change in words."""
        return f"{describe(text, self.gold)} → {describe(text, self.suggestion)}"

    def to_json(self, text: str | None = None) -> dict[str, Any]:
        data = {
            "post_id": self.post_id,
            "signal": self.signal,
            "signals": self.signals or [self.signal],
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "gold": [[s.start, s.end, s.label] for s in self.gold],
            "suggestion": [[s.start, s.end, s.label] for s in self.suggestion],
            "score": round(self.score, 6),
            "reason": self.reason,
            "evidence": self.evidence,
        }
        if text is not None:
            data["stretch"] = text[self.start : self.end]
            data["fix"] = self.fix(text)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LabelIssue":
        return cls(
            data["post_id"], data["signal"], data["kind"], int(data["start"]), int(data["end"]),
            [Span(int(a), int(b), str(c)) for a, b, c in data["gold"]],
            [Span(int(a), int(b), str(c)) for a, b, c in data["suggestion"]],
            float(data["score"]), data["reason"], dict(data.get("evidence", {})), list(data.get("signals", [])),
        )


def describe(text: str, spans: Iterable[Span]) -> str:
    return ", ".join(f"「{span.text_of(text)}」{span.label}" for span in sorted(spans)) or "no entity"


def _touches(a: LabelIssue, b: LabelIssue) -> bool:
    return a.post_id == b.post_id and a.start < b.end and b.start < a.end


def combine(signal_lists: Sequence[Sequence[LabelIssue]]) -> list[LabelIssue]:
    """One ranking from several signals' rankings.

    What more independent signals agree on comes first (an issue whose stretch another signal also
    flagged counts for both); among issues flagged by as many signals, the sum of their rank values
    1 - rank / n within each signal (1.0 for a signal's top item) decides. Overlapping issues of the
    later signals are folded into the first one's entry.
    """
    ranked: list[tuple[int, float, LabelIssue]] = []
    normalised: list[list[tuple[float, LabelIssue]]] = []
    for issues in signal_lists:
        ordered = sorted(issues, key=lambda issue: -issue.score)
        count = max(len(ordered), 1)
        normalised.append([(1.0 - rank / count, issue) for rank, issue in enumerate(ordered)])
    kept: list[LabelIssue] = []
    for position, entries in enumerate(normalised):
        for value, issue in entries:
            if any(_touches(issue, other) and other.signal != issue.signal for other in kept):
                continue  # already counted with the earlier signal's issue
            total, signals = value, [issue.signal]
            for other_position, others in enumerate(normalised):
                if other_position == position:
                    continue
                best = max((v for v, other in others if _touches(issue, other)), default=None)
                if best is not None:
                    total += best
                    signals.append(others[0][1].signal)
            combined = LabelIssue(**{**issue.__dict__, "signals": signals, "score": total})
            kept.append(combined)
            ranked.append((len(signals), total, combined))
    ranked.sort(key=lambda entry: (-entry[0], -entry[1]))
    return [issue for _, _, issue in ranked]
