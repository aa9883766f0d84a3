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


def _greedy_pairs(a: Sequence[Span], b: Sequence[Span], same_label: bool) -> list[tuple[Span, Span]]:
    """One-to-one pairs of overlapping spans: exact positions first, then the largest overlap."""
    b_order = sorted(range(len(b)), key=lambda j: (b[j].start, b[j].end))
    candidates = []
    first = 0
    for i in sorted(range(len(a)), key=lambda i: (a[i].start, a[i].end)):
        x = a[i]
        # spans of b ending before x starts end before every later x too: skip them for good
        while first < len(b_order) and b[b_order[first]].end <= x.start:
            first += 1
        for j in b_order[first:]:
            y = b[j]
            if y.start >= x.end:
                break
            if same_label and x.label != y.label:
                continue
            shared = min(x.end, y.end) - max(x.start, y.start)
            if shared > 0:
                exact = x.start == y.start and x.end == y.end
                candidates.append((not exact, x.label != y.label, -shared, x.start, y.start, i, j))
    candidates.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for *_, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((a[i], b[j]))
    return pairs


def overlap_matches(a: Sequence[Span], b: Sequence[Span]) -> list[tuple[Span, Span]]:
    """Same-label, overlapping, one-to-one matches."""
    return _greedy_pairs(a, b, same_label=True)


def label_alignment(a: Sequence[Span], b: Sequence[Span]) -> list[tuple[str, str]]:
    """(label in a, label in b) for every span, aligned one to one by overlap; NONE where one has nothing."""
    pairs = _greedy_pairs(a, b, same_label=False)
    matched_a = {x for x, _ in pairs}
    matched_b = {y for _, y in pairs}
    aligned = [(x.label, y.label) for x, y in pairs]
    aligned += [(x.label, NONE) for x in a if x not in matched_a]
    aligned += [(NONE, y.label) for y in b if y not in matched_b]
    return aligned


def confusion_matrix(a: Sequence[Span], b: Sequence[Span]) -> np.ndarray:
    """5 x 5 counts (PER, LOC, ORG, MISC, NONE): rows are a's label, columns b's."""
    index = {label: i for i, label in enumerate(CONFUSION_LABELS)}
    matrix = np.zeros((len(CONFUSION_LABELS), len(CONFUSION_LABELS)), dtype=np.int64)
    for x, y in label_alignment(a, b):
        matrix[index[x], index[y]] += 1
    return matrix


def pair_counts(a: Iterable[Span], b: Iterable[Span]) -> np.ndarray:
    """(len(METRIC_NAMES), 3) array of [matched, spans in a, spans in b] for one post."""
    a_set, b_set = set(a), set(b)
    counts = np.zeros((len(METRIC_NAMES), 3), dtype=np.int64)
    counts[0] = (len(a_set & b_set), len(a_set), len(b_set))
    a_list, b_list = sorted(a_set), sorted(b_set)
    matches = overlap_matches(a_list, b_list)
    counts[1] = (len(matches), len(a_set), len(b_set))
    a_positions = {(s.start, s.end) for s in a_set}
    b_positions = {(s.start, s.end) for s in b_set}
    counts[2] = (len(a_positions & b_positions), len(a_positions), len(b_positions))
    for label in LABELS:
        a_label = {s for s in a_set if s.label == label}
        b_label = {s for s in b_set if s.label == label}
        counts[METRIC_INDEX[f"strict:{label}"]] = (len(a_label & b_label), len(a_label), len(b_label))
        counts[METRIC_INDEX[f"overlap:{label}"]] = (
            sum(1 for x, _ in matches if x.label == label), len(a_label), len(b_label)
        )
    return counts


def f1_from_counts(matched: np.ndarray | float, in_a: np.ndarray | float, in_b: np.ndarray | float) -> np.ndarray:
    """2 * matched / (a + b), elementwise; NaN where neither side has a span (undefined, not perfect)."""
    matched, in_a, in_b = (np.asarray(x, dtype=np.float64) for x in (matched, in_a, in_b))
    total = in_a + in_b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * matched / np.where(total > 0, total, 1.0), np.nan)


def post_f1(a: Iterable[Span], b: Iterable[Span]) -> float:
    """Strict F1 of one post for one pair; two empty versions agree perfectly (1.0)."""
    a_set, b_set = set(a), set(b)
    if not a_set and not b_set:
        return 1.0
    return 2.0 * len(a_set & b_set) / (len(a_set) + len(b_set))
