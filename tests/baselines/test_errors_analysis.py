"""The error classifier on hand-built cases, the side-by-side selection and the rendering."""

from __future__ import annotations

from cmner_build.baselines.errors_analysis import classify_errors, count_errors, image_changed_posts, render, spans_of
from cmner_build.model import Span


def kinds(gold, predicted):
    matched, errors = classify_errors(gold, predicted)
    return matched, sorted(error.kind for error in errors)


def test_each_kind_on_its_own():
    per = Span(0, 2, "PER")
    assert kinds([per], [per]) == (1, [])
    assert kinds([per], [Span(0, 2, "LOC")]) == (0, ["wrong_type"])
    assert kinds([per], [Span(0, 1, "PER")]) == (0, ["wrong_boundary"])
    assert kinds([per], [Span(1, 3, "ORG")]) == (0, ["wrong_boundary"])  # boundary and type both off
    assert kinds([per], []) == (0, ["missed"])
    assert kinds([], [Span(4, 6, "MISC")]) == (0, ["spurious"])


def test_a_prediction_spanning_two_gold_entities_is_one_boundary_error():
    gold = [Span(0, 2, "LOC"), Span(2, 4, "LOC")]
    matched, errors = classify_errors(gold, [Span(0, 4, "LOC")])
    assert matched == 0
    assert [(e.kind, len(e.gold)) for e in errors] == [("wrong_boundary", 2)]


def test_mixed_post_and_totals():
    gold = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "O", "O", "O"]
    pred = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "O", "O", "B-MISC", "O"]
    assert spans_of(gold) == [Span(0, 2, "PER"), Span(3, 5, "LOC"), Span(6, 7, "ORG")]
    counts = count_errors([{"gold": gold, "predicted": pred}])
    assert counts == {"gold": 3, "predicted": 3, "correct": 1, "wrong_boundary": 0, "wrong_type": 1,
                      "missed": 1, "spurious": 1}


def _row(post_id, tokens, gold, predicted):
    return {"split": "test", "post_id": post_id, "tokens": tokens, "gold": gold, "predicted": predicted}


def test_image_changed_posts_keeps_only_posts_whose_outcome_differs():
    tokens = list("张三去北京")
    gold = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    text_rows = [
        _row("a", tokens, gold, ["B-PER", "I-PER", "O", "O", "O"]),  # image fixes the miss
        _row("b", tokens, gold, gold),  # both right
        _row("c", tokens, gold, gold),  # image breaks it
        _row("d", tokens, gold, ["O", "O", "O", "B-ORG", "I-ORG"]),  # different wrong guesses, same outcome
    ]
    image_rows = [
        _row("a", tokens, gold, gold),
        _row("b", tokens, gold, gold),
        _row("c", tokens, gold, ["B-ORG", "I-ORG", "O", "B-LOC", "I-LOC"]),
        _row("d", tokens, gold, ["O", "O", "O", "B-MISC", "I-MISC"]),
    ]
    changed = image_changed_posts(text_rows, image_rows)
    assert [(row["post_id"], row["effect"], row["text_errors"], row["image_errors"]) for row in changed] == [
        ("a", "helped", 1, 0), ("c", "hurt", 0, 1)]


def test_render_marks_entities():
    assert render(list("张三去北京"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == "[张三]PER去[北京]LOC"
    assert render(["Tom", "in", "NYC"], ["B-PER", "O", "B-LOC"], " ") == "[Tom]PER in [NYC]LOC"
