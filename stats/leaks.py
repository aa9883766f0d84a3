"""Split-leak audit: identical and near-identical texts that sit in different splits.

The audit searches the texts itself with the exact near-duplicate search and checks every pair found
against the splits stored for its two posts. It never reads the near-duplicate groups that clean or
export recorded, so a post put in the wrong split by a grouping bug (or by hand) is still counted.
"""

from __future__ import annotations

from typing import Mapping

from cmner_build.near_duplicates import near_duplicate_pairs


def leak_audit(texts: Mapping[str, str], split_of: Mapping[str, str], threshold: float = 0.7,
               examples: int = 10) -> dict:
    """Counts of identical-text groups spread over splits and of near-identical cross-split pairs.

    A pair is identical when the two texts are equal; near-identical when they differ and their
    character 3-gram Jaccard reaches the threshold (found exactly: no pair at or above it is missed).
    """
    # Only posts in different splits can leak: with one split (or none) there is nothing to search.
    found = near_duplicate_pairs(texts, threshold, method="exact") if len(set(split_of.values())) > 1 else []
    identical_groups: dict[str, set[str]] = {}
    for post_id, text in texts.items():
        identical_groups.setdefault(text, set()).add(post_id)
    spread_groups = [
        sorted(ids) for ids in identical_groups.values() if len({split_of[i] for i in ids}) > 1
    ]
    cross = [(a, b, s) for a, b, s in found if split_of[a] != split_of[b]]
    cross_identical = [(a, b) for a, b, _ in cross if texts[a] == texts[b]]
    cross_near = [(a, b, s) for a, b, s in cross if texts[a] != texts[b]]
    return {
        "threshold": threshold,
        "search": "exact",
        "identical_groups_across_splits": len(spread_groups),
        "identical_posts_across_splits": sum(len(group) for group in spread_groups),
        "identical_pairs_across_splits": len(cross_identical),
        "near_identical_pairs_across_splits": len(cross_near),
        "examples": [
            {"post_ids": [a, b], "splits": [split_of[a], split_of[b]], "jaccard": s, "text": texts[a][:60]}
            for a, b, s in sorted(cross_near, key=lambda pair: (-pair[2], pair[0], pair[1]))[:examples]
        ]
        + [
            {"post_ids": group, "splits": [split_of[i] for i in group], "jaccard": 1.0, "text": texts[group[0]][:60]}
            for group in sorted(spread_groups)[:examples]
        ],
    }
