"""The pilot sample, batches and the rotation of annotator triples (pure functions, exact results)."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from cmner_build.annotate.batching import pilot_sample, rotate_triples, split_into_batches


def work_and_pairs(pool: list[str], groups: list[tuple[str, ...]]) -> tuple[Counter, Counter]:
    work = Counter({name: 0 for name in pool})
    pairs = Counter({pair: 0 for pair in combinations(pool, 2)})
    for group in groups:
        work.update(group)
        pairs.update(combinations(group, 2))
    return work, pairs


def test_seven_annotators_seven_batches_is_a_fano_plane() -> None:
    pool = [f"a{i}" for i in range(7)]
    groups = rotate_triples(pool, 7)
    work, pairs = work_and_pairs(pool, groups)
    assert set(work.values()) == {3}
    assert set(pairs.values()) == {1}  # every pair works together exactly once


def test_six_annotators_ten_batches_every_pair_twice() -> None:
    pool = [f"a{i}" for i in range(6)]
    work, pairs = work_and_pairs(pool, rotate_triples(pool, 10))
    assert set(work.values()) == {5} and set(pairs.values()) == {2}


def test_four_annotators_four_batches_are_the_four_triples() -> None:
    pool = ["w", "x", "y", "z"]
    assert sorted(rotate_triples(pool, 4)) == [("w", "x", "y"), ("w", "x", "z"), ("w", "y", "z"), ("x", "y", "z")]


def test_three_annotators_always_the_same_triple_in_pool_order() -> None:
    assert rotate_triples(["c", "a", "b"], 3) == [("c", "a", "b")] * 3


@pytest.mark.parametrize("size", range(3, 13))
def test_work_never_differs_by_more_than_one_batch(size: int) -> None:
    pool = [f"a{i:02d}" for i in range(size)]
    for count in (1, 5, 17, 40):
        work, _ = work_and_pairs(pool, rotate_triples(pool, count))
        assert max(work.values()) - min(work.values()) <= 1
        assert sum(work.values()) == 3 * count


def test_a_later_push_continues_the_rotation() -> None:
    pool = [f"a{i}" for i in range(6)]
    first = rotate_triples(pool, 4)
    second = rotate_triples(pool, 6, previous=first)
    work, pairs = work_and_pairs(pool, first + second)
    assert set(work.values()) == {5} and set(pairs.values()) == {2}


def test_deterministic_and_other_group_sizes() -> None:
    pool = [f"a{i}" for i in range(8)]
    assert rotate_triples(pool, 12) == rotate_triples(pool, 12)
    pairs_of_two = rotate_triples(pool, 4, per_batch=2)
    assert sorted(name for group in pairs_of_two for name in group) == pool


def test_rejects_a_pool_too_small_or_with_repeats() -> None:
    with pytest.raises(ValueError, match="pool has 2 annotators but each batch needs 3"):
        rotate_triples(["a", "b"], 1)
    with pytest.raises(ValueError, match="twice"):
        rotate_triples(["a", "b", "a"], 1)


def test_pilot_sample_is_seeded_and_independent_of_order() -> None:
    posts = [f"p{i:03d}" for i in range(50)]
    sample = pilot_sample(posts, 10, seed=42)
    assert len(sample) == 10 and sample == sorted(sample) and set(sample) <= set(posts)
    assert pilot_sample(list(reversed(posts)), 10, seed=42) == sample
    assert pilot_sample(posts, 10, seed=43) != sample
    assert pilot_sample(posts, 80, seed=1) == posts


def test_split_into_batches() -> None:
    assert split_into_batches(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    with pytest.raises(ValueError):
        split_into_batches(["a"], 0)
