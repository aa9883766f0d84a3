"""Character-level chance-corrected agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha.

Each character gets one nominal category per annotator: the label of the entity covering it (IO
scheme) or NONE. The point estimates come from statsmodels and krippendorff; the functions here
compute the same statistics from sums that are additive over posts, so the bootstrap can resample
posts with one matrix product instead of re-running the libraries a thousand times. The tests check
that both give the same numbers.

All functions work on the last axes, so a stack of tables (one per bootstrap replicate) is fine.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from cmner_build.model import LABELS, Span

N_CATEGORIES = len(LABELS) + 1  # PER, LOC, ORG, MISC, NONE: the order of agreement_spans.CONFUSION_LABELS
NONE_CODE = len(LABELS)
CODE_OF_LABEL = {label: code for code, label in enumerate(LABELS)}


def label_codes(length: int, spans: Iterable[Span]) -> np.ndarray:
    """Category code of every character (NONE_CODE outside entities)."""
    codes = np.full(length, NONE_CODE, dtype=np.int64)
    for span in sorted(spans):
        codes[span.start : span.end] = CODE_OF_LABEL[span.label]
    return codes


def value_counts(codes: np.ndarray) -> np.ndarray:
    """(raters, chars) codes -> (chars, categories) counts: how many raters chose each category."""
    raters, length = codes.shape
    flat = codes.T.astype(np.int64) + np.arange(length)[:, None] * N_CATEGORIES
    return np.bincount(flat.ravel(), minlength=length * N_CATEGORIES).reshape(length, N_CATEGORIES)


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix of a set of units (summable over posts)."""
    counts = counts.astype(np.float64)
    pairable = counts.sum(axis=1)
    usable = pairable >= 2  # a unit coded by one rater holds no pairable values
    counts, pairable = counts[usable], pairable[usable]
    weighted = counts / (pairable - 1.0)[:, None]
    return weighted.T @ counts - np.diag(weighted.sum(axis=0))


def coincidences_by_post(counts: np.ndarray, post_index: np.ndarray, n_posts: int) -> np.ndarray:
    """(posts, categories, categories): the coincidence matrix of each post's units, in one pass."""
    counts = counts.astype(np.float64)
    pairable = counts.sum(axis=1)
    usable = pairable >= 2
    counts, pairable, post_index = counts[usable], pairable[usable], post_index[usable]
    weighted = counts / (pairable - 1.0)[:, None]
    result = np.zeros((n_posts, N_CATEGORIES, N_CATEGORIES))
    for c in range(N_CATEGORIES):
        for k in range(N_CATEGORIES):
            result[:, c, k] = np.bincount(post_index, weights=weighted[:, c] * counts[:, k], minlength=n_posts)
        result[:, c, c] -= np.bincount(post_index, weights=weighted[:, c], minlength=n_posts)
    return result


def merge_unanimous_units(counts: np.ndarray) -> np.ndarray:
    """Fewer units with the same coincidence matrix, so the krippendorff package stays fast and small.

    A unit whose m >= 2 values are all category c adds m to o[c, c] and nothing else: (m*m - m)/(m - 1).
    That is linear in m, so all unanimous units of c add up to one unit of c with their summed count.
    Only disagreeing units are kept as they are (and units with one value, which add nothing, are
    dropped). Most characters are unanimous NONE, so this shrinks a corpus to a few percent.
    """
    totals = counts.sum(axis=1)
    pairable = counts[totals >= 2]
    unanimous = pairable.max(axis=1) == pairable.sum(axis=1)
    merged = np.diag(pairable[unanimous].sum(axis=0))
    merged = merged[merged.sum(axis=1) > 0]
    return np.concatenate([pairable[~unanimous], merged]).astype(counts.dtype)


def alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha, nominal: 1 - (n - 1) * off-diagonal(o) / sum_{c != k} n_c n_k. NaN if undefined."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    observed = n - np.trace(o, axis1=-2, axis2=-1)
    expected = n * n - (n_c * n_c).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1.0) * observed / np.where(expected > 0, expected, 1.0), np.nan)


def fleiss_parts(counts: np.ndarray) -> np.ndarray:
    """[units, sum of squared counts, category totals...] of units that all have the same number of raters."""
    counts = counts.astype(np.float64)
    return np.concatenate([[counts.shape[0], (counts * counts).sum()], counts.sum(axis=0)])


def fleiss_parts_by_post(counts: np.ndarray, post_index: np.ndarray, n_posts: int) -> np.ndarray:
    """(posts, 2 + categories): fleiss_parts of each post's units, in one pass."""
    counts = counts.astype(np.float64)
    parts = np.zeros((n_posts, 2 + N_CATEGORIES))
    parts[:, 0] = np.bincount(post_index, minlength=n_posts)
    parts[:, 1] = np.bincount(post_index, weights=(counts * counts).sum(axis=1), minlength=n_posts)
    for c in range(N_CATEGORIES):
        parts[:, 2 + c] = np.bincount(post_index, weights=counts[:, c], minlength=n_posts)
    return parts


def fleiss_from_parts(parts: np.ndarray, raters: int) -> np.ndarray:
    """Fleiss' kappa from summed fleiss_parts (statsmodels' formula, method='fleiss'). NaN if undefined."""
    units, squares, totals = parts[..., 0], parts[..., 1], parts[..., 2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (squares - units * raters) / (units * raters * (raters - 1.0))
        shares = totals / (units * raters)[..., None]
        expected = (shares * shares).sum(axis=-1)
        return np.where((units > 0) & (expected < 1.0), (observed - expected) / (1.0 - expected), np.nan)


def cohen_table(a_codes: np.ndarray, b_codes: np.ndarray) -> np.ndarray:
    """(categories, categories) contingency table of two raters over the same characters."""
    flat = a_codes.astype(np.int64) * N_CATEGORIES + b_codes
    return np.bincount(flat, minlength=N_CATEGORIES * N_CATEGORIES).reshape(N_CATEGORIES, N_CATEGORIES)


def without_none_agreement(table: np.ndarray) -> np.ndarray:
    """The table restricted to characters at least one of the two raters labelled (drops NONE/NONE)."""
    table = np.array(table, dtype=np.float64, copy=True)
    table[..., NONE_CODE, NONE_CODE] = 0.0
    return table


def cohen_from_table(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of a contingency table (statsmodels' cohens_kappa, unweighted). NaN if undefined."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(table, axis1=-2, axis2=-1) / n
        expected = (table.sum(axis=-1) * table.sum(axis=-2)).sum(axis=-1) / (n * n)
        return np.where((n > 0) & (expected < 1.0), (observed - expected) / (1.0 - expected), np.nan)
