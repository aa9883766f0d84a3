"""Span matching between two versions of one post: strict, overlap and detection-only counts.

F1 between two annotators is symmetric (either one may play "gold"), and equals positive specific
agreement (Hripcsak & Rothschild 2005). Every count here is additive over posts, so the corpus F1 is a
micro average: 2 * sum(tp) / (sum(a) + sum(b)).

- strict: same start, end and label.
- overlap: same label and at least one shared character, matched one to one (exact pairs first, then
  the largest overlap), so a span is never credited twice.
- detection: same start and end, any label (agreement on where entities are, not on their type).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from cmner_build.model import LABELS, Span

MEASURES: tuple[str, ...] = ("strict", "overlap", "detection")
# Count columns of one pair on one post: the three measures overall, then strict and overlap per label.
METRIC_NAMES: tuple[str, ...] = MEASURES + tuple(f"strict:{label}" for label in LABELS) + tuple(
    f"overlap:{label}" for label in LABELS
)
METRIC_INDEX: dict[str, int] = {name: index for index, name in enumerate(METRIC_NAMES)}
NONE = "NONE"
CONFUSION_LABELS: tuple[str, ...] = LABELS + (NONE,)


def overlap_length(a: Span, b: Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def _candidates(a: Sequence[Span], b: Sequence[Span]) -> list[tuple]:
    """Every overlapping (a, b) pair, keyed so that sorting puts exact positions first, then same label,
    then the largest overlap. a and b are sorted, so a sweep finds the pairs without comparing all."""
    candidates = []
    first = 0
    for i, x in enumerate(a):
        # spans of b that end before x starts end before every later x too: skip them for good
        while first < len(b) and b[first].end <= x.start:
            first += 1
        for j in range(first, len(b)):
            y = b[j]
            if y.start >= x.end:
                break
            shared = min(x.end, y.end) - max(x.start, y.start)
            if shared > 0:
                exact = x.start == y.start and x.end == y.end
                candidates.append((not exact, x.label != y.label, -shared, x.start, y.start, i, j))
    candidates.sort()
    return candidates


def _greedy(candidates: list[tuple], same_label: bool) -> list[tuple[int, int]]:
    """One-to-one pairs, best candidates first."""
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, label_differs, _, _, _, i, j in candidates:
        if (same_label and label_differs) or i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j))
    return pairs


@dataclass
class Comparison:
    """Everything agreement needs from one pair of versions of one post."""

    rows: list[tuple[int, int, int]]  # [matched, spans in a, spans in b] per METRIC_NAMES
    overlap_matches: list[tuple[Span, Span]]  # same label, overlapping, one to one
    aligned: list[tuple[str, str]]  # (label in a, label in b) aligned by overlap, NONE for no partner

    @property
    def strict_f1(self) -> float:
        """Strict F1 of the post; two empty versions agree perfectly (1.0)."""
        matched, in_a, in_b = self.rows[0]
        return 1.0 if in_a + in_b == 0 else 2.0 * matched / (in_a + in_b)


def compare(a: Iterable[Span], b: Iterable[Span]) -> Comparison:
    a_list, b_list = sorted(set(a)), sorted(set(b))
    candidates = _candidates(a_list, b_list)
    matches = [(a_list[i], b_list[j]) for i, j in _greedy(candidates, same_label=True)]
    any_label = _greedy(candidates, same_label=False)
    matched_a = {i for i, _ in any_label}
    matched_b = {j for _, j in any_label}
    aligned = [(a_list[i].label, b_list[j].label) for i, j in any_label]
    aligned += [(x.label, NONE) for i, x in enumerate(a_list) if i not in matched_a]
    aligned += [(NONE, y.label) for j, y in enumerate(b_list) if j not in matched_b]
    a_set, b_set = set(a_list), set(b_list)
    a_positions = {(s.start, s.end) for s in a_list}
    b_positions = {(s.start, s.end) for s in b_list}
    a_labels = Counter(s.label for s in a_list)
    b_labels = Counter(s.label for s in b_list)
    strict_labels = Counter(s.label for s in a_set & b_set)
    overlap_labels = Counter(x.label for x, _ in matches)
    rows = [
        (len(a_set & b_set), len(a_list), len(b_list)),
        (len(matches), len(a_list), len(b_list)),
        (len(a_positions & b_positions), len(a_positions), len(b_positions)),
    ]
    rows += [(strict_labels[label], a_labels[label], b_labels[label]) for label in LABELS]
    rows += [(overlap_labels[label], a_labels[label], b_labels[label]) for label in LABELS]
    return Comparison(rows, matches, aligned)


def overlap_matches(a: Sequence[Span], b: Sequence[Span]) -> list[tuple[Span, Span]]:
    """Same-label, overlapping, one-to-one matches."""
    return compare(a, b).overlap_matches


def label_alignment(a: Sequence[Span], b: Sequence[Span]) -> list[tuple[str, str]]:
    """(label in a, label in b) for every span, aligned one to one by overlap; NONE where one has nothing."""
    return compare(a, b).aligned


CONFUSION_INDEX = {label: i for i, label in enumerate(CONFUSION_LABELS)}


def confusion_matrix(a: Sequence[Span], b: Sequence[Span]) -> np.ndarray:
    """5 x 5 counts (PER, LOC, ORG, MISC, NONE): rows are a's label, columns b's."""
    matrix = np.zeros((len(CONFUSION_LABELS), len(CONFUSION_LABELS)), dtype=np.int64)
    for x, y in label_alignment(a, b):
        matrix[CONFUSION_INDEX[x], CONFUSION_INDEX[y]] += 1
    return matrix


def pair_counts(a: Iterable[Span], b: Iterable[Span]) -> np.ndarray:
    """(len(METRIC_NAMES), 3) array of [matched, spans in a, spans in b] for one post."""
    return np.array(compare(a, b).rows, dtype=np.int64)


def f1_from_counts(matched: np.ndarray | float, in_a: np.ndarray | float, in_b: np.ndarray | float) -> np.ndarray:
    """2 * matched / (a + b), elementwise; NaN where neither side has a span (undefined, not perfect)."""
    matched, in_a, in_b = (np.asarray(x, dtype=np.float64) for x in (matched, in_a, in_b))
    total = in_a + in_b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * matched / np.where(total > 0, total, 1.0), np.nan)


def post_f1(a: Iterable[Span], b: Iterable[Span]) -> float:
    """Strict F1 of one post for one pair; two empty versions agree perfectly (1.0)."""
    return compare(a, b).strict_f1
