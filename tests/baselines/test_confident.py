"""Confident learning over k-fold CRF marginals ranks planted type flips above untouched spans."""

from __future__ import annotations

import random

import pytest

from cmner_build.importer import import_release
from cmner_build.model import Span

from cmner_build.baselines.confident import (
    CrossValidationOptions,
    assign_folds,
    confident_learning_issues,
    entity_probabilities,
)

PEOPLE = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨军", "赵敏", "黄磊"]
CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉"]
CLUBS = ["国安", "申花", "恒大", "泰山", "蓉城", "绿城", "苏宁", "卓尔"]


def regular_release(tmp_path, count: int, flips: int, seed: int = 3):
    """Every post is '<person>在<city>为<club>进球' with its filler: the model learns it in an epoch or two.
    The first `flips` posts get the person labelled ORG instead of PER (a planted type flip)."""
    rng = random.Random(seed)
    blocks, planted = [], {}
    for i in range(count):
        person, city, club = rng.choice(PEOPLE), rng.choice(CITIES), rng.choice(CLUBS)
        text = f"{person}在{city}为{club}进球"
        tags = ["O"] * len(text)
        person_label = "ORG" if i < flips else "PER"
        for start, surface, label in ((0, person, person_label), (3, city, "LOC"), (6, club, "ORG")):
            tags[start] = f"B-{label}"
            for k in range(start + 1, start + len(surface)):
                tags[k] = f"I-{label}"
        post_id = f"P{i:04d}"
        if i < flips:
            planted[post_id] = Span(0, 2, "ORG")
        blocks.append("\n".join([f"WID:{post_id}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]))
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path, planted


def test_folds_are_seeded_balanced_and_order_free():
    ids = [f"p{i}" for i in range(10)]
    folds = assign_folds(ids, 3, 7)
    assert folds == assign_folds(list(reversed(ids)), 3, 7)
    assert sorted(list(folds.values()).count(k) for k in range(3)) == [3, 3, 4]
    assert folds != assign_folds(ids, 3, 8)


def test_entity_probabilities_sum_b_and_i():
    import numpy as np

    marginals = np.array([[0.1, 0.2, 0.3, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1]], dtype=np.float32)
    merged = entity_probabilities(marginals)
    assert merged.shape == (1, 5)
    assert np.allclose(merged[0], [0.1, 0.5, 0.0, 0.2, 0.2])


@pytest.mark.slow
def test_planted_flips_rank_above_untouched_spans_and_folds_are_reused(workspace, tmp_path):
    path, planted = regular_release(tmp_path, count=96, flips=4)
    import_release(workspace.store, [path], "cmner")
    options = CrossValidationOptions(folds=3, epochs=3, seed=1, device="cpu", batch_size=8, lr=0.02, hidden=16,
                                     embedding_dim=16, threads=1)
    logged: list[str] = []
    result = confident_learning_issues(workspace.store, workspace.runs_dir, workspace.root / "features", options,
                                       log=logged.append)
    issues = result.issues
    assert issues, "confident learning flagged nothing"
    top = issues[: len(planted)]
    assert {(issue.post_id, tuple(issue.gold)) for issue in top} == {(post_id, (span,)) for post_id, span in planted.items()}
    for issue in top:
        assert issue.suggestion == [Span(0, 2, "PER")] and issue.signal == "confident_learning"
    # every planted flip scores above every issue on an untouched span
    untouched = [issue.score for issue in issues if issue.post_id not in planted]
    assert min(issue.score for issue in top) > max(untouched, default=0.0)
    assert result.info["folds_reused"] == 0 and len(result.info["fold_dev_f1"]) == 3
    # the folds are cached: a second audit trains nothing and gives the same ranking
    again = confident_learning_issues(workspace.store, workspace.runs_dir, workspace.root / "features", options)
    assert again.info["folds_reused"] == 3
    assert [(i.post_id, i.start, i.end) for i in again.issues] == [(i.post_id, i.start, i.end) for i in issues]
