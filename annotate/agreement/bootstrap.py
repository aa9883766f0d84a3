"""Bootstrap confidence intervals over posts, vectorised.

Every statistic of the report is a function of sums over posts (matched spans, span counts,
coincidence matrices, contingency tables). A bootstrap replicate draws posts with replacement, which
is the same as weighting each post by how often it was drawn: the replicate's sums are then one
matrix product, weights (replicates x posts) @ components (posts x K). Replicates are processed in
chunks so that memory stays bounded for large corpora.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

# Largest weights block held at once (replicates x posts), in elements: about 32 MB of float64.
CHUNK_ELEMENTS = 4_000_000


def draw_weights(rng: np.random.Generator, replicates: int, posts: int) -> np.ndarray:
    """How often each post is drawn in each replicate: (replicates, posts) counts summing to `posts` per row."""
    draws = rng.integers(0, posts, size=(replicates, posts))
    offsets = (np.arange(replicates) * posts)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=replicates * posts).reshape(replicates, posts)


def bootstrap(
    components: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    replicates: int,
    seed: int,
) -> np.ndarray:
    """Statistic of each replicate: components (posts, K) -> (replicates, S), statistic maps (r, K) -> (r, S)."""
    posts = components.shape[0]
    components = components.reshape(posts, -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    step = max(1, min(replicates, CHUNK_ELEMENTS // max(posts, 1)))
    results = []
    for first in range(0, replicates, step):
        count = min(step, replicates - first)
        weights = draw_weights(rng, count, posts).astype(np.float64)
        results.append(statistic(weights @ components))
    return np.concatenate(results, axis=0)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring replicates where the statistic is undefined (NaN)."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": that interval is NaN too
        low = np.nanpercentile(samples, tail, axis=0)
        high = np.nanpercentile(samples, 100.0 - tail, axis=0)
    return low, high
