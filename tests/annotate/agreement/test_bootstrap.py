"""The vectorised bootstrap equals resampling posts one replicate at a time."""

import numpy as np
import pytest

from cmner_build.annotate.agreement import bootstrap as agreement_bootstrap
from cmner_build.annotate.agreement.bootstrap import bootstrap, draw_weights, percentile_interval


def test_weights_count_draws_with_replacement():
    weights = draw_weights(np.random.default_rng(0), 50, 7)
    assert weights.shape == (50, 7)
    assert (weights.sum(axis=1) == 7).all()
    assert weights.max() > 1  # some post drawn twice somewhere


def ratio(summed):
    return (summed[:, 0] / summed[:, 1])[:, None]


def test_bootstrap_equals_explicit_resampling(monkeypatch):
    rng = np.random.default_rng(1)
    components = rng.integers(0, 10, size=(30, 2)).astype(float) + 1.0
    monkeypatch.setattr(agreement_bootstrap, "CHUNK_ELEMENTS", 30 * 7)  # several chunks
    samples = bootstrap(components, ratio, 25, seed=5)
    draws = np.random.default_rng(5)
    expected = []
    for first in range(0, 25, 7):
        indices = draws.integers(0, 30, size=(min(7, 25 - first), 30))
        for row in indices:
            picked = components[row]
            expected.append(picked[:, 0].sum() / picked[:, 1].sum())
    assert samples[:, 0] == pytest.approx(expected)


def test_percentile_interval_skips_undefined_replicates():
    samples = np.array([[0.1, np.nan], [0.2, np.nan], [0.3, np.nan], [np.nan, np.nan]])
    low, high = percentile_interval(samples, 0.5)
    assert (low[0], high[0]) == pytest.approx((0.15, 0.25))
    assert np.isnan(low[1]) and np.isnan(high[1])
