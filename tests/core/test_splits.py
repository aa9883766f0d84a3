from collections import Counter

import pytest

from cmner_build.errors import CmnerError
from cmner_build.splits import assign_splits, parse_ratio, plan_splits


def test_parse_ratio():
    assert parse_ratio("3:1:1") == (0.6, 0.2, 0.2)
    assert parse_ratio(" 8:1:1 ") == (0.8, 0.1, 0.1)
    assert parse_ratio("1:0:1") == (0.5, 0.0, 0.5)


@pytest.mark.parametrize(
    "ratio, message",
    [("3:1", "three parts"), ("a:b:c", "three numbers"), ("0:0:0", "above zero"), ("3:-1:1", "not negative"),
     ("3:1:1:1", "three parts"), ("nan:1:1", "finite"), ("", "three parts")],
)
def test_bad_ratios_are_explained(ratio, message):
    with pytest.raises(CmnerError, match=message):
        parse_ratio(ratio)


def singletons(n, prefix="p"):
    return [[f"{prefix}{i:04d}"] for i in range(n)]


def test_each_topic_keeps_the_ratio():
    groups = singletons(100, "a") + singletons(50, "b")
    topics = {g[0]: ("体育" if g[0].startswith("a") else "科技") for g in groups}
    assignment = assign_splits(groups, topics, parse_ratio("3:1:1"), seed=1)
    per_topic = Counter((topics[p], s) for p, s in assignment.items())
    assert per_topic == {("体育", "train"): 60, ("体育", "dev"): 20, ("体育", "test"): 20,
                         ("科技", "train"): 30, ("科技", "dev"): 10, ("科技", "test"): 10}


def test_groups_never_straddle_splits_and_seed_determines_the_result():
    groups = [["a", "b", "c"], ["d", "e"]] + singletons(40)
    topics = {}
    first = assign_splits(groups, topics, parse_ratio("3:1:1"), seed=7)
    assert first == assign_splits(list(reversed(groups)), topics, parse_ratio("3:1:1"), seed=7)
    assert len({first[p] for p in "abc"}) == 1
    assert len({first[p] for p in "de"}) == 1
    assert first != assign_splits(groups, topics, parse_ratio("3:1:1"), seed=8)


def test_fixed_splits_are_kept_and_pull_their_group_along():
    groups = [["a", "b"], ["c"], ["d", "e"]]
    assignment = assign_splits(groups, {}, parse_ratio("1:1:1"), seed=0, fixed={"a": "test", "d": "dev", "e": "train"})
    assert assignment["a"] == assignment["b"] == "test"
    # A release that already split a group keeps its own splits.
    assert (assignment["d"], assignment["e"]) == ("dev", "train")


def test_an_unassigned_post_joins_the_split_most_of_its_group_has():
    groups = [["a", "b", "c", "d"], ["e", "f", "g"]]
    assignment = assign_splits(groups, {}, parse_ratio("3:1:1"), seed=0,
                               fixed={"a": "dev", "b": "test", "c": "test", "e": "dev", "f": "train"})
    assert assignment["d"] == "test"  # two of its group are in test, one in dev
    assert assignment["g"] == "train"  # a tie goes to train, then dev, then test


def test_plan_keeps_stored_splits_and_splits_only_new_posts():
    groups = [["a", "b"], ["c", "d"]] + singletons(20)
    stored = {"a": "train", "b": "dev", "c": "test", **{f"p{i:04d}": "train" for i in range(10)}}
    plan = plan_splits(groups, {}, stored, parse_ratio("1:1:0"), seed=4)
    assert {post_id: plan.assignment[post_id] for post_id in stored} == stored
    assert plan.assignment["d"] == "test"  # joins its group's split, not the ratio
    new = [f"p{i:04d}" for i in range(10, 20)]
    assert Counter(plan.assignment[p] for p in new) == {"train": 5, "dev": 5}  # new posts split at the ratio
    assert (plan.kept, plan.newly_assigned, plan.moved) == (13, 11, 0)
    assert plan.spread_groups == [["a", "b"]]  # kept as stored, reported


def test_resplit_reassigns_everything_and_counts_the_moves():
    groups = [["a", "b"]] + singletons(30)
    stored = {"a": "train", "b": "dev", **{f"p{i:04d}": "test" for i in range(30)}}
    plan = plan_splits(groups, {}, stored, parse_ratio("3:1:1"), seed=4, resplit=True)
    assert plan.assignment["a"] == plan.assignment["b"] and plan.spread_groups == []
    assert plan.moved == sum(1 for post_id, split in plan.assignment.items() if stored[post_id] != split)
    assert plan.kept == 32 - plan.moved and plan.newly_assigned == 0
    assert Counter(plan.assignment.values()) == {"train": 19, "dev": 7, "test": 6}


def test_zero_ratio_split_gets_nothing():
    assignment = assign_splits(singletons(10), {}, parse_ratio("1:0:1"), seed=3)
    assert Counter(assignment.values()) == {"train": 5, "test": 5}
