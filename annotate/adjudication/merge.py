"""Merging the annotators' versions of a post: majority spans, then typed conflict clusters.

1. Exact voting: a (start, end, label) span marked by at least `min_votes` annotators is accepted
   (INCEpTION's "merge using thresholds" with user threshold 2 for three annotators).
2. A minority span that overlaps an accepted span is outvoted: the majority already settled that
   stretch of text. It is kept for the audit, not queued.
3. The remaining spans are grouped into conflict clusters: connected groups of spans that share at
   least one character. Each cluster is typed:
   - presence: a single candidate span, which too few annotators marked (the others marked nothing);
   - type: every candidate has the same offsets, the labels differ;
   - boundary: every candidate has the same label, the offsets differ (this includes split/merge);
   - mixed: offsets and labels both differ.
4. Each cluster gets a suggestion: the character-level majority (characters that at least
   `min_votes` annotators gave the same label, re-joined into spans), often empty.

Annotators appear as aliases A, B, C (their sorted usernames), so the adjudicator judges the versions,
not the people.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from cmner_build.model import Span

from cmner_build.annotate.agreement.data import AnnotatedPost
from cmner_build.annotate.agreement.spans import overlap_length

CONFLICT_TYPES: tuple[str, ...] = ("boundary", "type", "presence", "mixed")


@dataclass(frozen=True)
class Candidate:
    span: Span
    voters: tuple[str, ...]  # aliases of the annotators who marked exactly this span

    def to_json(self) -> dict[str, Any]:
        return {"start": self.span.start, "end": self.span.end, "label": self.span.label, "voters": list(self.voters)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Candidate":
        return cls(Span(data["start"], data["end"], data["label"]), tuple(data["voters"]))


@dataclass
class Cluster:
    number: int  # 1, 2, ... in text order within the post: what the adjudicator refers to
    start: int
    end: int
    conflict_type: str
    candidates: list[Candidate]
    silent: list[str]  # aliases that marked nothing in this stretch
    suggestion: list[Span]


@dataclass
class MergedPost:
    batch_id: str
    post_id: str
    text: str
    aliases: dict[str, str]  # alias -> annotator username
    min_votes: int
    input_hash: str
    versions: dict[str, list[Span]]  # alias -> that annotator's whole version
    accepted: list[Span]
    outvoted: list[Candidate] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


def alias_names(count: int) -> list[str]:
    """A, B, ..., Z, AA, AB, ...: enough aliases for any number of annotators."""
    letters = string.ascii_uppercase
    names = []
    for index in range(count):
        name = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            name = letters[rest] + name
        names.append(name)
    return names


def spans_to_json(spans: Iterable[Span]) -> list[list[Any]]:
    return [[span.start, span.end, span.label] for span in sorted(spans)]


def spans_from_json(data: Iterable[Sequence[Any]]) -> list[Span]:
    return [Span(int(start), int(end), str(label)) for start, end, label in data]


def input_hash(post: AnnotatedPost, min_votes: int) -> str:
    """Changes whenever the text, a version or the voting rule changes: the merge must then be redone."""
    payload = {
        "text": post.text,
        "min_votes": min_votes,
        "versions": {name: spans_to_json(spans) for name, spans in sorted(post.spans_by_annotator.items())},
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _overlaps(a: Span, b: Span) -> bool:
    return overlap_length(a, b) > 0


def conflict_type(candidates: Sequence[Candidate]) -> str:
    if len(candidates) == 1:
        return "presence"
    positions = {(c.span.start, c.span.end) for c in candidates}
    labels = {c.span.label for c in candidates}
    if len(positions) == 1:
        return "type"
    if len(labels) == 1:
        return "boundary"
    return "mixed"


def character_majority(candidates: Sequence[Candidate], min_votes: int) -> list[Span]:
    """Spans of characters that at least min_votes annotators gave one label (a unique winner)."""
    if not candidates:
        return []
    first = min(c.span.start for c in candidates)
    last = max(c.span.end for c in candidates)
    winners: list[str | None] = []
    for position in range(first, last):
        votes: dict[str, int] = {}
        for candidate in candidates:
            if candidate.span.start <= position < candidate.span.end:
                votes[candidate.span.label] = votes.get(candidate.span.label, 0) + len(candidate.voters)
        best = max(votes.values(), default=0)
        leaders = [label for label, count in votes.items() if count == best]
        winners.append(leaders[0] if best >= min_votes and len(leaders) == 1 else None)
    spans: list[Span] = []
    run_start = 0
    for index in range(1, len(winners) + 1):
        if index == len(winners) or winners[index] != winners[run_start]:
            if winners[run_start] is not None:
                spans.append(Span(first + run_start, first + index, winners[run_start]))
            run_start = index
    return spans


def _components(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Groups of candidates connected by shared characters (sorted by start, so a sweep suffices)."""
    groups: list[list[Candidate]] = []
    reach = 0
    for candidate in sorted(candidates, key=lambda c: (c.span.start, c.span.end, c.span.label)):
        if groups and candidate.span.start < reach:
            groups[-1].append(candidate)
            reach = max(reach, candidate.span.end)
        else:
            groups.append([candidate])
            reach = candidate.span.end
    return groups


def merge_post(post: AnnotatedPost, min_votes: int) -> MergedPost:
    """Accepted spans, outvoted spans and typed conflict clusters of one post's versions."""
    if min_votes < 1:
        raise ValueError("min_votes must be at least 1")
    names = post.annotators
    aliases = dict(zip(alias_names(len(names)), names))
    alias_of = {name: alias for alias, name in aliases.items()}
    voters: dict[Span, list[str]] = {}
    for name in names:
        for span in set(post.spans_by_annotator[name]):
            voters.setdefault(span, []).append(alias_of[name])
    candidates = [Candidate(span, tuple(sorted(who))) for span, who in sorted(voters.items())]
    majority = [c for c in candidates if len(c.voters) >= min_votes]
    # Two majority spans that overlap (possible with more annotators or min_votes 1) contradict each other.
    contested = {c for c in majority for other in majority if other is not c and _overlaps(c.span, other.span)}
    accepted = [c.span for c in majority if c not in contested]
    versions = {alias_of[name]: sorted(set(post.spans_by_annotator[name])) for name in names}
    merged = MergedPost(post.batch_id, post.post_id, post.text, aliases, min_votes, input_hash(post, min_votes),
                        versions, accepted)
    open_candidates = []
    for candidate in candidates:
        if candidate in majority and candidate not in contested:
            continue
        if any(_overlaps(candidate.span, span) for span in accepted):
            merged.outvoted.append(candidate)
        else:
            open_candidates.append(candidate)
    for number, group in enumerate(_components(open_candidates), start=1):
        marked = {alias for candidate in group for alias in candidate.voters}
        merged.clusters.append(Cluster(
            number=number,
            start=min(c.span.start for c in group),
            end=max(c.span.end for c in group),
            conflict_type=conflict_type(group),
            candidates=group,
            silent=[alias for alias in aliases if alias not in marked],
            suggestion=character_majority(group, min_votes),
        ))
    return merged
