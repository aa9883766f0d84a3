"""Character-level kappa and alpha: hand-computed values, and the additive forms against the libraries."""

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from cmner_build.annotate.agreement.chars import (
    NONE_CODE,
    alpha_from_coincidences,
    coincidences,
    coincidences_by_post,
    cohen_from_table,
    cohen_table,
    fleiss_from_parts,
    fleiss_parts,
    fleiss_parts_by_post,
    label_codes,
    merge_unanimous_units,
    value_counts,
    without_none_agreement,
)
from cmner_build.model import Span


def test_label_codes_io_scheme():
    codes = label_codes(6, [Span(0, 2, "PER"), Span(3, 5, "MISC")])
    assert codes.tolist() == [0, 0, NONE_CODE, 3, 3, NONE_CODE]


def test_boundary_only_pair_by_hand():
    # 12 characters; A marks 4..9 LOC, B marks 4..11 LOC.
    a = label_codes(12, [Span(4, 9, "LOC")])
    b = label_codes(12, [Span(4, 11, "LOC")])
    table = cohen_table(a, b)
    assert cohen_from_table(table) == pytest.approx(50 / 74)
    assert cohen_from_table(without_none_agreement(table)) == pytest.approx(0.0)
    counts = value_counts(np.stack([a, b]))
    assert alpha_from_coincidences(coincidences(counts)) == pytest.approx(196 / 288)
    assert fleiss_from_parts(fleiss_parts(counts), 2) == pytest.approx(2 / 3)


def test_type_only_pair_by_hand():
    a = label_codes(7, [Span(0, 2, "LOC")])
    b = label_codes(7, [Span(0, 2, "ORG")])
    table = cohen_table(a, b)
    assert cohen_from_table(table) == pytest.approx(10 / 24)
    assert cohen_from_table(without_none_agreement(table)) == pytest.approx(0.0)


def test_undefined_when_only_one_category_is_used():
    empty = label_codes(5, [])
    counts = value_counts(np.stack([empty, empty, empty]))
    assert np.isnan(cohen_from_table(cohen_table(empty, empty)))
    assert np.isnan(alpha_from_coincidences(coincidences(counts)))
    assert np.isnan(fleiss_from_parts(fleiss_parts(counts), 3))


def random_codes(rng, raters, length):
    codes = np.full((raters, length), NONE_CODE)
    truth = rng.integers(0, 12, size=length)  # mostly NONE, some labels
    for r in range(raters):
        noisy = np.where(rng.random(length) < 0.2, rng.integers(0, 12, size=length), truth)
        codes[r] = np.where(noisy < NONE_CODE, noisy, NONE_CODE)
    return codes


def test_additive_forms_equal_the_libraries_on_random_data():
    rng = np.random.default_rng(7)
    posts = [random_codes(rng, 3, int(rng.integers(5, 40))) for _ in range(25)]
    counts = [value_counts(codes) for codes in posts]
    # Krippendorff: sum of per-post coincidences == the library on all units (reliability data, raters x units)
    summed = sum(coincidences(c) for c in counts)
    reliability = np.concatenate(posts, axis=1).astype(float)
    expected_alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert alpha_from_coincidences(summed) == pytest.approx(expected_alpha, abs=1e-12)
    # Fleiss: sum of per-post parts == statsmodels on the raters' raw data
    table, _ = aggregate_raters(np.concatenate(posts, axis=1).T)
    assert fleiss_from_parts(sum(fleiss_parts(c) for c in counts), 3) == pytest.approx(fleiss_kappa(table), abs=1e-12)
    # Cohen: summed contingency tables == statsmodels
    contingency = sum(cohen_table(p[0], p[1]) for p in posts)
    assert cohen_from_table(contingency) == pytest.approx(cohens_kappa(contingency, return_results=False), abs=1e-12)


def test_alpha_ignores_units_with_a_single_rater():
    counts = np.array([[2, 0, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 1]])
    # the middle unit holds one value: no pairable information
    assert np.allclose(coincidences(counts), coincidences(counts[[0, 2]]))
    assert alpha_from_coincidences(coincidences(counts)) == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    )


def test_per_post_components_in_one_pass_equal_post_by_post():
    rng = np.random.default_rng(3)
    posts = [random_codes(rng, 3, int(rng.integers(1, 30))) for _ in range(8)]
    counts = np.concatenate([value_counts(codes) for codes in posts])
    post_index = np.repeat(np.arange(8), [codes.shape[1] for codes in posts])
    by_post = coincidences_by_post(counts, post_index, 9)
    parts = fleiss_parts_by_post(counts, post_index, 9)
    for i, codes in enumerate(posts):
        assert np.allclose(by_post[i], coincidences(value_counts(codes)))
        assert np.allclose(parts[i], fleiss_parts(value_counts(codes)))
    assert not by_post[8].any() and not parts[8].any()  # a post with no characters


def test_merging_unanimous_units_leaves_alpha_unchanged():
    rng = np.random.default_rng(11)
    counts = np.concatenate([value_counts(random_codes(rng, 3, 60)) for _ in range(20)])
    counts = np.concatenate([counts, [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]]])  # single-value units add nothing
    merged = merge_unanimous_units(counts)
    assert len(merged) < len(counts) / 2
    assert np.allclose(coincidences(merged), coincidences(counts))
    assert krippendorff.alpha(value_counts=merged, level_of_measurement="nominal") == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"), abs=1e-12)
