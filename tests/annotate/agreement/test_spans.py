"""Span matching of two versions: strict, overlap, detection counts and the label alignment, by hand."""

import numpy as np
import pytest

from cmner_build.annotate.agreement.spans import (
    CONFUSION_LABELS,
    METRIC_INDEX,
    confusion_matrix,
    f1_from_counts,
    label_alignment,
    overlap_matches,
    pair_counts,
    post_f1,
)
from cmner_build.model import Span


def counts_of(a, b, metric):
    return pair_counts(a, b)[METRIC_INDEX[metric]].tolist()


def test_boundary_only_disagreement_counts_for_overlap_but_not_strict_or_detection():
    a, b = [Span(4, 9, "LOC")], [Span(4, 11, "LOC")]
    assert counts_of(a, b, "strict") == [0, 1, 1]
    assert counts_of(a, b, "overlap") == [1, 1, 1]
    assert counts_of(a, b, "detection") == [0, 1, 1]
    assert counts_of(a, b, "overlap:LOC") == [1, 1, 1]
    assert counts_of(a, b, "strict:LOC") == [0, 1, 1]


def test_type_only_disagreement_counts_for_detection_only():
    a, b = [Span(0, 2, "LOC")], [Span(0, 2, "ORG")]
    assert counts_of(a, b, "strict") == [0, 1, 1]
    assert counts_of(a, b, "overlap") == [0, 1, 1]
    assert counts_of(a, b, "detection") == [1, 1, 1]
    assert counts_of(a, b, "strict:LOC") == [0, 1, 0]
    assert counts_of(a, b, "strict:ORG") == [0, 0, 1]


def test_empty_versions_count_nothing_and_f1_is_undefined_not_perfect():
    assert pair_counts([], []).sum() == 0
    assert np.isnan(f1_from_counts(0, 0, 0))
    assert post_f1([], []) == 1.0  # for ranking posts: two empty versions agree
    assert post_f1([Span(0, 1, "PER")], []) == 0.0


def test_overlap_matching_is_one_to_one_and_prefers_exact_then_largest_overlap():
    a = [Span(0, 4, "LOC")]
    b = [Span(0, 2, "LOC"), Span(2, 4, "LOC")]  # one span against a split: only one credit
    assert counts_of(a, b, "overlap") == [1, 1, 2]
    a = [Span(0, 3, "PER"), Span(3, 6, "PER")]
    b = [Span(2, 6, "PER")]  # overlaps both; the larger overlap (3,6) wins
    assert overlap_matches(a, b) == [(Span(3, 6, "PER"), Span(2, 6, "PER"))]
    a = [Span(0, 5, "ORG")]
    b = [Span(0, 5, "ORG"), Span(1, 3, "ORG")]
    assert overlap_matches(a, b) == [(Span(0, 5, "ORG"), Span(0, 5, "ORG"))]


def test_duplicate_spans_in_one_version_count_once():
    assert counts_of([Span(0, 2, "PER"), Span(0, 2, "PER")], [Span(0, 2, "PER")], "strict") == [1, 1, 1]


def test_label_alignment_with_none():
    a = [Span(0, 2, "PER"), Span(3, 5, "LOC"), Span(8, 9, "MISC")]
    b = [Span(0, 2, "PER"), Span(3, 6, "ORG"), Span(10, 12, "ORG")]
    assert sorted(label_alignment(a, b)) == sorted(
        [("PER", "PER"), ("LOC", "ORG"), ("MISC", "NONE"), ("NONE", "ORG")]
    )
    matrix = confusion_matrix(a, b)
    index = {label: i for i, label in enumerate(CONFUSION_LABELS)}
    assert matrix.sum() == 4
    assert matrix[index["PER"], index["PER"]] == 1
    assert matrix[index["LOC"], index["ORG"]] == 1
    assert matrix[index["MISC"], index["NONE"]] == 1
    assert matrix[index["NONE"], index["ORG"]] == 1


def test_f1_from_counts_is_elementwise():
    f1 = f1_from_counts(np.array([1, 0, 2]), np.array([2, 0, 2]), np.array([2, 0, 3]))
    assert f1[0] == pytest.approx(0.5)
    assert np.isnan(f1[1])
    assert f1[2] == pytest.approx(0.8)
