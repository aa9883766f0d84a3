"""Train / dev / test assignment: stratified by topic, deterministic for a seed, leak-free by groups.

A group is a set of posts with identical or near-identical text (or a recorded dup_group); a group is
placed whole into one split, so no near-copy of a test post is ever trained on.

A post that already has a split keeps it (a release's splits never change by accident); only posts
without one are split. Re-splitting everything is an explicit choice (`plan_splits(resplit=True)`,
`export --resplit`), and the plan says how many posts it moves.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
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

    fixed: posts whose split must be kept. They keep it, even when their group spreads over several
    splits (a release can do that: the leak is reported, not silently repaired); the group's other
    posts join the split most of its fixed posts have (ties: train, dev, test).
    Within each topic, groups are shuffled with the seed, placed largest first, each into the split
    furthest below its target share, so every topic keeps the ratio as closely as whole groups allow.
    """
    fixed = dict(fixed or {})
    assignment: dict[str, str] = {}
    loose_groups: list[list[str]] = []
    for group in groups:
        kept = Counter(fixed[post_id] for post_id in group if post_id in fixed)
        if kept:
            group_split = min(kept, key=lambda split: (-kept[split], SPLITS.index(split)))
            for post_id in group:
                assignment[post_id] = fixed.get(post_id, group_split)
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


@dataclass
class SplitPlan:
    """The split of every post, and what it changes against the splits stored before."""

    assignment: dict[str, str]
    kept: int = 0  # posts that keep the split they had
    newly_assigned: int = 0  # posts that had none
    moved: int = 0  # posts whose split changes (only with resplit)
    spread_groups: list[list[str]] = field(default_factory=list)  # groups left over several splits


def plan_splits(
    groups: Sequence[Sequence[str]],
    topic_of: Mapping[str, str | None],
    stored: Mapping[str, str | None],
    ratio: tuple[float, float, float],
    seed: int,
    *,
    resplit: bool = False,
) -> SplitPlan:
    """Splits for the posts in `groups`: stored splits kept, the others assigned; resplit reassigns all.

    Posts without a stored split are split at `ratio` among themselves (stratified by topic); a post
    whose group already has a split joins it. Groups whose stored splits differ stay as stored (and
    are listed in spread_groups) unless resplit.
    """
    fixed = {} if resplit else {post_id: split for post_id, split in stored.items() if split in SPLITS}
    assignment = assign_splits(groups, topic_of, ratio, seed, fixed)
    plan = SplitPlan(assignment)
    for post_id, split in assignment.items():
        before = stored.get(post_id)
        if before not in SPLITS:
            plan.newly_assigned += 1
        elif before == split:
            plan.kept += 1
        else:
            plan.moved += 1
    plan.spread_groups = [list(group) for group in groups if len({assignment[post_id] for post_id in group}) > 1]
    return plan
