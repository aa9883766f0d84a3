"""Train / dev / test assignment: stratified by topic, deterministic for a seed, leak-free by groups.

A group is a set of posts with identical or near-identical text (or a recorded dup_group); a group is
placed whole into one split, so no near-copy of a test post is ever trained on.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Mapping, Sequence

from .errors import CmnerError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
# A part is a share, not a count: anything larger only risks overflow (1e308 * 3 is infinite).
MAX_RATIO_PART = 1e6


def parse_ratio(ratio: str) -> tuple[float, float, float]:
    """'3:1:1' -> (0.6, 0.2, 0.2). Three non-negative numbers, not all zero."""
    parts = ratio.strip().split(":")
    if len(parts) != 3:
        raise CmnerError(f"split ratio {ratio!r} must have three parts, train:dev:test (e.g. 3:1:1)")
    try:
        weights = [float(part) for part in parts]
    except ValueError:
        raise CmnerError(f"split ratio {ratio!r} must be three numbers, train:dev:test (e.g. 3:1:1)") from None
    if not all(math.isfinite(weight) and 0 <= weight <= MAX_RATIO_PART for weight in weights):
        raise CmnerError(f"split ratio {ratio!r}: parts must be finite, not negative and at most {MAX_RATIO_PART:g}")
    total = sum(weights)
    if total <= 0:
        raise CmnerError(f"split ratio {ratio!r}: at least one part must be above zero")
    return (weights[0] / total, weights[1] / total, weights[2] / total)


def assign_splits(
    groups: Sequence[Sequence[str]],
    topic_of: Mapping[str, str | None],
    ratio: tuple[float, float, float],
    seed: int,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Split assignment for every post in `groups`.

    fixed: posts whose split must be kept (--keep-splits); a group that holds one joins its split.
    Within each topic, groups are shuffled with the seed, placed largest first, each into the split
    furthest below its target share, so every topic keeps the ratio as closely as whole groups allow.
    """
    fixed = dict(fixed or {})
    assignment: dict[str, str] = {}
    loose_groups: list[list[str]] = []
    for group in groups:
        kept = sorted({fixed[post_id] for post_id in group if post_id in fixed})
        if kept:
            # A group already split by the release: keep what is fixed, others join the first fixed split.
            for post_id in group:
                assignment[post_id] = fixed.get(post_id, kept[0])
        else:
            loose_groups.append(sorted(group))

    by_topic: dict[str, list[list[str]]] = {}
    for group in loose_groups:
        topics = Counter(topic_of.get(post_id) or "" for post_id in group)
        topic = sorted(topics.items(), key=lambda item: (-item[1], item[0]))[0][0]
        by_topic.setdefault(topic, []).append(group)

    for topic in sorted(by_topic):
        topic_groups = sorted(by_topic[topic], key=lambda group: group[0])
        rng = random.Random(f"{seed}:{topic}")
        rng.shuffle(topic_groups)
        # Stable sort keeps the shuffled order among groups of equal size.
        topic_groups.sort(key=len, reverse=True)
        total = sum(len(group) for group in topic_groups)
        counts = [0, 0, 0]
        for group in topic_groups:
            deficits = [ratio[i] * total - counts[i] for i in range(3)]
            # Largest shortfall wins; ties go to the earlier split, skipping splits with a zero ratio.
            choice = max((i for i in range(3) if ratio[i] > 0), key=lambda i: (deficits[i], -i))
            counts[choice] += len(group)
            for post_id in group:
                assignment[post_id] = SPLITS[choice]
    return assignment
