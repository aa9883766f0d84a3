"""Pure planning: the pilot sample, batches of posts, and the rotation of annotator triples.

Nothing here touches the store or the network, so the rules are tested exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations
from typing import Iterable, Sequence


def pilot_sample(post_ids: Sequence[str], size: int, seed: int) -> list[str]:
    """A seeded random sample of `size` posts (all of them when there are fewer), in a stable order.

    Sorting first makes the sample depend only on the set of posts and the seed, not on query order."""
    if size < 1:
        raise ValueError(f"the pilot needs at least one post, not {size}")
    ordered = sorted(post_ids)
    if size >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, size))


def split_into_batches(post_ids: Sequence[str], batch_size: int) -> list[list[str]]:
    """Consecutive chunks of `batch_size` posts (the last one may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"a batch needs at least one post, not {batch_size}")
    return [list(post_ids[start : start + batch_size]) for start in range(0, len(post_ids), batch_size)]


def rotate_triples(pool: Sequence[str], batch_count: int, per_batch: int = 3,
                   previous: Sequence[Sequence[str]] = (), chunk: int = 60) -> list[tuple[str, ...]]:
    """Choose `per_batch` annotators for each of `batch_count` new batches, balancing work and pairings.

    Work: each batch greedily takes annotators who have done the least so far, so nobody ever has more
    than one batch more than anyone else. Pairings: a local search then exchanges members between two
    batches (which keeps everyone's work) while that lowers the sum of squared pair counts, i.e. spreads
    the pairs that are measured against each other evenly (it finds the Fano plane for 7 annotators
    and 7 batches: every pair exactly once). Deterministic: ties go to pool order. `previous` are the
    groups of batches already planned, so a later push continues the same rotation; batches are planned
    `chunk` at a time to bound the search. Each group is returned in pool order.
    """
    members = list(dict.fromkeys(pool))
    if len(members) != len(pool):
        raise ValueError("the annotator pool names someone twice")
    if per_batch < 1:
        raise ValueError(f"each batch needs at least one annotator, not {per_batch}")
    if len(members) < per_batch:
        raise ValueError(f"the pool has {len(members)} annotators but each batch needs {per_batch}")
    position = {name: index for index, name in enumerate(members)}
    work = [0] * len(members)
    together: Counter[tuple[int, int]] = Counter()

    def count(group: Iterable[int], sign: int) -> None:
        for first, second in combinations(sorted(group), 2):
            together[(first, second)] += sign

    for group in previous:
        known = [position[name] for name in group if name in position]
        for index in known:
            work[index] += 1
        count(known, 1)
    chosen: list[frozenset[int]] = []
    while len(chosen) < batch_count:
        planned = [_least_loaded(work, together, per_batch) for _ in range(min(chunk, batch_count - len(chosen)))]
        _spread_pairs(planned, together)
        chosen += planned
    return [tuple(members[index] for index in sorted(group)) for group in chosen]


def _least_loaded(work: list[int], together: Counter[tuple[int, int]], per_batch: int) -> frozenset[int]:
    """The group with the least work so far, then the fewest shared batches; counts it."""
    def cost(group: tuple[int, ...]) -> tuple[int, int]:
        return (sum(work[index] for index in group),
                sum(2 * together[pair] + 1 for pair in combinations(group, 2)))

    best = min(combinations(range(len(work)), per_batch), key=lambda group: (cost(group), group))
    for index in best:
        work[index] += 1
    for pair in combinations(best, 2):
        together[pair] += 1
    return frozenset(best)


def _spread_pairs(groups: list[frozenset[int]], together: Counter[tuple[int, int]]) -> None:
    """Exchange one member between two groups while the sum of squared pair counts drops (first improvement)."""
    def pairs(group: Iterable[int]) -> list[tuple[int, int]]:
        return list(combinations(sorted(group), 2))

    improved = True
    while improved:
        improved = False
        for i, j in combinations(range(len(groups)), 2):
            for leaving_i in sorted(groups[i] - groups[j]):
                for leaving_j in sorted(groups[j] - groups[i]):
                    new_i = groups[i] - {leaving_i} | {leaving_j}
                    new_j = groups[j] - {leaving_j} | {leaving_i}
                    removed = Counter(pairs(groups[i]) + pairs(groups[j]))
                    added = Counter(pairs(new_i) + pairs(new_j))
                    delta = sum((together[pair] - removed[pair] + added[pair]) ** 2 - together[pair] ** 2
                                for pair in set(removed) | set(added))
                    if delta < 0:
                        together.subtract(removed)
                        together.update(added)
                        groups[i], groups[j] = frozenset(new_i), frozenset(new_j)
                        improved = True
                        break
                else:
                    continue
                break


def uncertainty_order(margins: dict[str, float], topics: dict[str, str | None], seed: int) -> list[str]:
    """Posts the model is least sure of first (lowest mean margin), keeping the topic mix in every prefix.

    Within a topic, posts go by margin, ties broken by a seeded shuffle. Topics are then interleaved in
    proportion to their sizes: the next post comes from the topic that has given the smallest share of its
    posts so far (ties to the topic whose next post is less sure, then by the seeded order), so any run of
    consecutive posts, and hence every batch and the splits stratified on topic later, has about the
    topic proportions of the whole. Deterministic for a seed.
    """
    rng = random.Random(seed)
    shuffled = sorted(margins)
    rng.shuffle(shuffled)
    tie_break = {post_id: rank for rank, post_id in enumerate(shuffled)}
    by_topic: dict[str, list[str]] = {}
    for post_id in sorted(margins, key=lambda p: (margins[p], tie_break[p])):
        by_topic.setdefault(topics.get(post_id) or "", []).append(post_id)
    topic_rank = {topic: tie_break[posts[0]] for topic, posts in by_topic.items()}
    taken = {topic: 0 for topic in by_topic}
    ordered: list[str] = []
    while len(ordered) < len(margins):
        open_topics = [topic for topic, posts in by_topic.items() if taken[topic] < len(posts)]
        topic = min(open_topics, key=lambda t: ((taken[t] + 1) / len(by_topic[t]),
                                                margins[by_topic[t][taken[t]]], topic_rank[t]))
        ordered.append(by_topic[topic][taken[topic]])
        taken[topic] += 1
    return ordered
