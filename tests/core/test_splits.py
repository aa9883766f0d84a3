from collections import Counter

import pytest

from cmner_build.errors import CmnerError
from cmner_build.splits import assign_splits, parse_ratio


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
    # A release that already split a group keeps its own splits (--keep-splits reproduces it).
    assert (assignment["d"], assignment["e"]) == ("dev", "train")


def test_zero_ratio_split_gets_nothing():
    assignment = assign_splits(singletons(10), {}, parse_ratio("1:0:1"), seed=3)
    assert Counter(assignment.values()) == {"train": 5, "test": 5}
