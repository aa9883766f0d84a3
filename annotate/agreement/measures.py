"""Inter-annotator agreement of a set of posts: the report `cmner-build agreement` prints and stores.

Primary measure: mean pairwise strict span F1, each pair's F1 micro-averaged over the posts both
annotated (docs/agreement.md, "The report"), then averaged over pairs. Also overlap and detection-only F1, per label
and per pair; an annotator x annotator label confusion with NONE; character-level Cohen's kappa per
pair, Fleiss' kappa (statsmodels) and Krippendorff's alpha, nominal (krippendorff), each over all
characters and over the characters someone labelled; bootstrap 95 % intervals over posts; the posts
with the lowest agreement.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from cmner_build.model import LABELS, Span

from cmner_build.annotate.agreement.bootstrap import bootstrap, percentile_interval
from cmner_build.annotate.agreement.chars import (
    CODE_OF_LABEL,
    NONE_CODE,
    alpha_from_coincidences,
    coincidences,
    coincidences_by_post,
    cohen_from_table,
    fleiss_from_parts,
    fleiss_parts,
    fleiss_parts_by_post,
    merge_unanimous_units,
    value_counts,
    without_none_agreement,
)
from cmner_build.annotate.agreement.data import AnnotatedPost
from cmner_build.annotate.agreement.spans import (
    CONFUSION_INDEX,
    CONFUSION_LABELS,
    MEASURES,
    METRIC_INDEX,
    METRIC_NAMES,
    compare,
    f1_from_counts,
    pair_counts,
)

CHAR_VARIANTS: tuple[str, ...] = ("all", "annotated")


@dataclass(frozen=True)
class AgreementOptions:
    replicates: int = 1000  # bootstrap replicates; 0 skips the intervals
    seed: int = 42
    confidence: float = 0.95
    lowest: int = 10  # how many low-agreement posts to list


def _number(value: Any) -> float | None:
    """A float for the JSON report; None where the statistic is undefined."""
    value = float(value)
    return None if np.isnan(value) else value


def _interval(low: Any, high: Any) -> list[float] | None:
    low, high = _number(low), _number(high)
    return None if low is None or high is None else [low, high]


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN; NaN (no warning) where every value is NaN."""
    present = ~np.isnan(values)
    total = np.where(present, values, 0.0).sum(axis=axis)
    count = present.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def versions_for_display(text: str, spans_by_annotator: dict[str, Sequence[Span]]) -> dict[str, list[list[Any]]]:
    return {
        name: [[span.start, span.end, span.label, span.text_of(text)] for span in sorted(spans)]
        for name, spans in spans_by_annotator.items()
    }


class _Tables:
    """Per-post components of every statistic, filled once; point estimates and bootstrap share them."""

    def __init__(self, posts: Sequence[AnnotatedPost]) -> None:
        self.posts = posts
        self.annotators = sorted({name for post in posts for name in post.spans_by_annotator})
        self.pairs = sorted({pair for post in posts for pair in combinations(post.annotators, 2)})
        self.pair_index = {pair: index for index, pair in enumerate(self.pairs)}
        n, n_pairs = len(posts), len(self.pairs)
        self._span_rows: list[tuple[int, int, list]] = []  # (post, pair, Comparison.rows)
        self.pair_posts = np.zeros(n_pairs, dtype=np.int64)
        self.confusion = np.zeros((n_pairs, len(CONFUSION_LABELS), len(CONFUSION_LABELS)), dtype=np.int64)
        self.raters = np.array([len(post.spans_by_annotator) for post in posts], dtype=np.int64)
        self.post_scores = np.full(n, np.nan)
        self.mentions: Counter = Counter()
        for i, post in enumerate(posts):
            self._add_spans(i, post)
        self.span_counts = np.zeros((n, n_pairs, len(METRIC_NAMES), 3), dtype=np.float64)
        if self._span_rows:
            posts_at, pairs_at, rows = zip(*self._span_rows)
            self.span_counts[list(posts_at), list(pairs_at)] = np.array(rows, dtype=np.float64)
        multi = self.raters[self.raters >= 2]
        # Fleiss' kappa needs the same number of raters on every unit: use the most common one.
        self.fleiss_raters = int(np.bincount(multi).argmax()) if multi.size else 0
        self.cohen = np.zeros((n_pairs, len(CONFUSION_LABELS), len(CONFUSION_LABELS)), dtype=np.float64)
        self.coincidence = np.zeros((n, len(CHAR_VARIANTS), len(CONFUSION_LABELS), len(CONFUSION_LABELS)))
        self.fleiss = np.zeros((n, len(CHAR_VARIANTS), 2 + len(CONFUSION_LABELS)))
        self.unit_counts: list[np.ndarray] = []  # per group of posts with the same raters: (chars, categories)
        for raters in sorted(set(self.raters.tolist())):
            self._add_characters(raters, [i for i in range(n) if self.raters[i] == raters])

    def _add_spans(self, i: int, post: AnnotatedPost) -> None:
        scores = []
        for a, b in combinations(post.annotators, 2):
            k = self.pair_index[(a, b)]
            comparison = compare(post.spans_by_annotator[a], post.spans_by_annotator[b])
            self._span_rows.append((i, k, comparison.rows))
            self.pair_posts[k] += 1
            confusion = self.confusion[k]
            for x, y in comparison.aligned:
                confusion[CONFUSION_INDEX[x], CONFUSION_INDEX[y]] += 1
            scores.append(comparison.strict_f1)
        if scores:
            self.post_scores[i] = float(np.mean(scores))
        for spans in post.spans_by_annotator.values():
            for span in spans:
                self.mentions[span.label] += 1.0 / len(post.spans_by_annotator)

    def _add_characters(self, raters: int, members: list[int]) -> None:
        """Character-level components of the posts that have `raters` annotators, as one matrix."""
        n = len(self.posts)
        lengths = np.array([len(self.posts[i].text) for i in members], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        post_index = np.repeat(np.array(members, dtype=np.int64), lengths)
        codes = np.full((raters, int(starts[-1])), NONE_CODE, dtype=np.int64)
        for row, i in enumerate(members):
            for rater, name in enumerate(self.posts[i].annotators):
                for span in self.posts[i].spans_by_annotator[name]:
                    codes[rater, starts[row] + span.start : starts[row] + span.end] = CODE_OF_LABEL[span.label]
        counts = value_counts(codes)
        self.unit_counts.append(counts)
        annotated = counts[:, NONE_CODE] < raters
        self.coincidence[:, 0] += coincidences_by_post(counts, post_index, n)
        self.coincidence[:, 1] += coincidences_by_post(counts[annotated], post_index[annotated], n)
        if raters == self.fleiss_raters:
            self.fleiss[:, 0] = fleiss_parts_by_post(counts, post_index, n)
            self.fleiss[:, 1] = fleiss_parts_by_post(counts[annotated], post_index[annotated], n)
        size = len(CONFUSION_LABELS)
        for first, second in combinations(range(raters), 2):
            pair_of_post = [self.pair_index[(self.posts[i].annotators[first], self.posts[i].annotators[second])]
                            for i in members]
            cells = np.repeat(np.array(pair_of_post, dtype=np.int64), lengths) * size * size
            cells += codes[first] * size + codes[second]
            self.cohen += np.bincount(cells, minlength=len(self.pairs) * size * size).reshape(-1, size, size)

    # -- the statistics, on summed components (any leading axes) ---------------------------------

    def components(self) -> np.ndarray:
        n = len(self.posts)
        return np.concatenate(
            [self.span_counts.reshape(n, -1), self.coincidence.reshape(n, -1), self.fleiss.reshape(n, -1)], axis=1
        )

    def statistics(self, summed: np.ndarray) -> np.ndarray:
        """(r, K) summed components -> (r, S): mean F1 per metric, F1 per pair (strict), alpha x2, Fleiss x2."""
        r = summed.shape[0]
        n_pairs, n_metrics = len(self.pairs), len(METRIC_NAMES)
        cut1 = n_pairs * n_metrics * 3
        cut2 = cut1 + len(CHAR_VARIANTS) * len(CONFUSION_LABELS) ** 2
        spans = summed[:, :cut1].reshape(r, n_pairs, n_metrics, 3)
        f1 = f1_from_counts(spans[..., 0], spans[..., 1], spans[..., 2])  # (r, pairs, metrics)
        mean_f1 = _nanmean(f1, axis=1)  # (r, metrics)
        coincidence = summed[:, cut1:cut2].reshape(r, len(CHAR_VARIANTS), len(CONFUSION_LABELS), -1)
        alpha = alpha_from_coincidences(coincidence)  # (r, variants)
        fleiss = fleiss_from_parts(summed[:, cut2:].reshape(r, len(CHAR_VARIANTS), -1), self.fleiss_raters)
        return np.concatenate([mean_f1, f1[:, :, METRIC_INDEX["strict"]], alpha, fleiss], axis=1)


def _library_alpha(unit_counts: list[np.ndarray], variant: str) -> float | None:
    """Krippendorff's alpha from the krippendorff package, over every unit with two or more raters."""
    import krippendorff

    rows = [counts if variant == "all" else counts[counts[:, NONE_CODE] < counts.sum(axis=1)] for counts in unit_counts]
    table = merge_unanimous_units(np.concatenate(rows) if rows else np.zeros((0, len(CONFUSION_LABELS)), int))
    if not table.size or np.isnan(alpha_from_coincidences(coincidences(table))):
        return None  # no pairable unit, or a single category observed: alpha is undefined
    return float(krippendorff.alpha(value_counts=table, level_of_measurement="nominal"))


def _library_fleiss(tables: _Tables, variant: str) -> float | None:
    from statsmodels.stats.inter_rater import fleiss_kappa

    raters = tables.fleiss_raters
    rows = [
        counts if variant == "all" else counts[counts[:, NONE_CODE] < raters]
        for counts in tables.unit_counts
        if counts.size and counts[0].sum() == raters
    ]
    table = np.concatenate(rows) if rows else np.zeros((0, len(CONFUSION_LABELS)))
    if not table.size or np.isnan(fleiss_from_parts(fleiss_parts(table), raters)):
        return None
    return float(fleiss_kappa(table, method="fleiss"))


def _library_cohen(table: np.ndarray) -> float | None:
    from statsmodels.stats.inter_rater import cohens_kappa

    if np.isnan(cohen_from_table(table)):
        return None
    return float(cohens_kappa(table, return_results=False))


def compute_agreement(posts: Sequence[AnnotatedPost], options: AgreementOptions = AgreementOptions()) -> dict[str, Any]:
    """The full agreement report of these posts (each with every assigned annotator's confirmed version)."""
    tables = _Tables(posts)
    report: dict[str, Any] = {"posts": len(posts), "annotators": tables.annotators, "pairs_count": len(tables.pairs)}
    if not posts:
        return report
    totals = tables.span_counts.sum(axis=0)  # (pairs, metrics, 3)
    pair_f1 = f1_from_counts(totals[..., 0], totals[..., 1], totals[..., 2])  # (pairs, metrics)
    mean_f1 = _nanmean(pair_f1, axis=0)
    samples = None
    if options.replicates > 0:
        samples = bootstrap(tables.components(), tables.statistics, options.replicates, options.seed)
        low, high = percentile_interval(samples, options.confidence)
    n_metrics, n_pairs = len(METRIC_NAMES), len(tables.pairs)

    def ci(column: int) -> list[float] | None:
        return None if samples is None else _interval(low[column], high[column])

    for measure in MEASURES:
        index = METRIC_INDEX[measure]
        report[f"{measure}_f1"] = {"value": _number(mean_f1[index]), "ci": ci(index)}
    report["per_label"] = {
        label: {
            "strict_f1": _number(mean_f1[METRIC_INDEX[f"strict:{label}"]]),
            "strict_ci": ci(METRIC_INDEX[f"strict:{label}"]),
            "overlap_f1": _number(mean_f1[METRIC_INDEX[f"overlap:{label}"]]),
            "overlap_ci": ci(METRIC_INDEX[f"overlap:{label}"]),
            "mentions_per_annotator": round(tables.mentions[label], 6),
        }
        for label in LABELS
    }
    report["pairs"] = []
    for k, (a, b) in enumerate(tables.pairs):
        report["pairs"].append({
            "a": a,
            "b": b,
            "posts": int(tables.pair_posts[k]),
            "spans_a": int(totals[k, 0, 1]),
            "spans_b": int(totals[k, 0, 2]),
            "strict_matches": int(totals[k, 0, 0]),
            **{f"{measure}_f1": _number(pair_f1[k, METRIC_INDEX[measure]]) for measure in MEASURES},
            "strict_ci": ci(n_metrics + k),
            "per_label": {label: _number(pair_f1[k, METRIC_INDEX[f"strict:{label}"]]) for label in LABELS},
            "cohen_kappa": {
                "all": _library_cohen(tables.cohen[k]),
                "annotated": _library_cohen(without_none_agreement(tables.cohen[k])),
            },
            "confusion": tables.confusion[k].tolist(),
        })
    pooled = sum((matrix + matrix.T for matrix in tables.confusion), np.zeros((5, 5), dtype=np.int64))
    report["confusion"] = {"labels": list(CONFUSION_LABELS), "pooled_both_directions": pooled.tolist()}
    chars_first = n_metrics + n_pairs
    report["krippendorff_alpha"] = {
        variant: {"value": _library_alpha(tables.unit_counts, variant), "ci": ci(chars_first + v)}
        for v, variant in enumerate(CHAR_VARIANTS)
    }
    report["fleiss_kappa"] = {
        variant: {"value": _library_fleiss(tables, variant), "ci": ci(chars_first + len(CHAR_VARIANTS) + v)}
        for v, variant in enumerate(CHAR_VARIANTS)
    }
    report["fleiss_kappa"]["raters"] = tables.fleiss_raters
    report["fleiss_kappa"]["posts"] = int((tables.raters == tables.fleiss_raters).sum())
    report["characters"] = int(sum(len(post.text) for post in posts))
    report["lowest_posts"] = _lowest_posts(posts, tables.post_scores, options.lowest)
    report["bootstrap"] = {"replicates": options.replicates, "seed": options.seed, "confidence": options.confidence}
    return report


def _lowest_posts(posts: Sequence[AnnotatedPost], scores: np.ndarray, limit: int) -> list[dict[str, Any]]:
    ranked = sorted(
        (score, post.batch_id, post.post_id, i) for i, (post, score) in enumerate(zip(posts, scores))
        if not np.isnan(score) and score < 1.0
    )
    return [
        {
            "batch_id": batch_id,
            "post_id": post_id,
            "strict_f1": float(score),
            "text": posts[i].text,
            "versions": versions_for_display(posts[i].text, posts[i].spans_by_annotator),
        }
        for score, batch_id, post_id, i in ranked[:limit]
    ]


def compute_vs_gold(
    posts: Sequence[AnnotatedPost], gold: dict[str, Sequence[Span]], options: AgreementOptions = AgreementOptions()
) -> dict[str, Any]:
    """Each annotator against the adjudicated gold: precision, recall, F1 (strict, overlap, per label)."""
    annotators = sorted({name for post in posts for name in post.spans_by_annotator})
    index = {name: i for i, name in enumerate(annotators)}
    counts = np.zeros((len(posts), len(annotators), len(METRIC_NAMES), 3))
    post_counts = np.zeros(len(annotators), dtype=np.int64)
    for i, post in enumerate(posts):
        for name, spans in post.spans_by_annotator.items():
            counts[i, index[name]] = pair_counts(gold.get(post.post_id, ()), spans)  # [matched, gold, annotator]
            post_counts[index[name]] += 1
    report: dict[str, Any] = {"posts": len(posts), "annotators": []}
    if not posts:
        return report
    totals = counts.sum(axis=0)
    f1 = f1_from_counts(totals[..., 0], totals[..., 1], totals[..., 2])
    low = high = None
    if options.replicates > 0:
        strict = METRIC_INDEX["strict"]

        def statistic(summed: np.ndarray) -> np.ndarray:
            shaped = summed.reshape(summed.shape[0], len(annotators), len(METRIC_NAMES), 3)[:, :, strict]
            per_annotator = f1_from_counts(shaped[..., 0], shaped[..., 1], shaped[..., 2])
            return np.concatenate([per_annotator, _nanmean(per_annotator, axis=1)[:, None]], axis=1)

        low, high = percentile_interval(bootstrap(counts, statistic, options.replicates, options.seed), options.confidence)

    def ratio(numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator else None

    for k, name in enumerate(annotators):
        entry: dict[str, Any] = {"annotator": name, "posts": int(post_counts[k])}
        for measure in ("strict", "overlap"):
            matched, in_gold, in_annotator = totals[k, METRIC_INDEX[measure]]
            entry[measure] = {
                "precision": ratio(matched, in_annotator),
                "recall": ratio(matched, in_gold),
                "f1": _number(f1[k, METRIC_INDEX[measure]]),
            }
        entry["strict"]["ci"] = None if low is None else _interval(low[k], high[k])
        entry["per_label"] = {label: _number(f1[k, METRIC_INDEX[f"strict:{label}"]]) for label in LABELS}
        entry["gold_spans"] = int(totals[k, 0, 1])
        entry["annotator_spans"] = int(totals[k, 0, 2])
        report["annotators"].append(entry)
    report["strict_f1"] = {
        "value": _number(_nanmean(f1[:, METRIC_INDEX["strict"]], axis=0)),
        "ci": None if low is None else _interval(low[-1], high[-1]),
    }
    report["bootstrap"] = {"replicates": options.replicates, "seed": options.seed, "confidence": options.confidence}
    return report
