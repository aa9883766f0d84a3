"""Error analysis of runs, as in the paper's case and error study.

Each predicted or gold entity that is not an exact match (same start, end and type) is one error of:

* wrong type      the prediction has exactly the boundaries of a gold entity but another type;
* wrong boundary  the prediction overlaps a gold entity without the same boundaries (whatever its type;
                  a prediction overlapping two gold entities is one error that accounts for both);
* spurious        the prediction overlaps no gold entity;
* missed          a gold entity that no prediction touches.

Entities are read from the BIO tags in seqeval's lenient way (an I- without B- starts an entity), so the
counts add up with the scores: every gold entity and every predicted entity is in exactly one category.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from cmner_build.model import Span, Token, bio_to_spans

ERROR_KINDS = ("wrong_boundary", "wrong_type", "missed", "spurious")


def spans_of(tags: Sequence[str]) -> list[Span]:
    """Entities of a tag sequence, by token index (end exclusive)."""
    tokens = [Token("", index, index + 1) for index in range(len(tags))]
    return bio_to_spans(tokens, list(tags), strict=False)


@dataclass(frozen=True)
class EntityError:
    kind: str
    gold: tuple[Span, ...]  # the gold entities involved (none for spurious)
    predicted: Span | None  # the predicted entity (none for missed)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def classify_errors(gold: Iterable[Span], predicted: Iterable[Span]) -> tuple[int, list[EntityError]]:
    """(number of exact matches, the errors) for one post."""
    gold_left = sorted(set(gold))
    predicted_left = sorted(set(predicted))
    exact = set(gold_left) & set(predicted_left)
    gold_left = [span for span in gold_left if span not in exact]
    predicted_left = [span for span in predicted_left if span not in exact]
    errors: list[EntityError] = []
    accounted: set[Span] = set()
    for prediction in predicted_left:
        same_bounds = [g for g in gold_left if (g.start, g.end) == (prediction.start, prediction.end)]
        if same_bounds:
            errors.append(EntityError("wrong_type", tuple(same_bounds), prediction))
            accounted.update(same_bounds)
            continue
        touched = tuple(g for g in gold_left if _overlaps(g, prediction))
        if touched:
            errors.append(EntityError("wrong_boundary", touched, prediction))
            accounted.update(touched)
        else:
            errors.append(EntityError("spurious", (), prediction))
    errors.extend(EntityError("missed", (g,), None) for g in gold_left if g not in accounted)
    return len(exact), errors


def count_errors(rows: Iterable[dict]) -> dict:
    """Totals over prediction rows ({"gold": tags, "predicted": tags}): correct, gold, predicted, each kind."""
    counts = Counter({kind: 0 for kind in ERROR_KINDS})
    correct = gold_total = predicted_total = 0
    for row in rows:
        gold, predicted = spans_of(row["gold"]), spans_of(row["predicted"])
        matched, errors = classify_errors(gold, predicted)
        correct += matched
        gold_total += len(gold)
        predicted_total += len(predicted)
        counts.update(error.kind for error in errors)
    return {"gold": gold_total, "predicted": predicted_total, "correct": correct, **{k: counts[k] for k in ERROR_KINDS}}


def post_error_count(row: dict) -> int:
    return len(classify_errors(spans_of(row["gold"]), spans_of(row["predicted"]))[1])


def image_changed_posts(text_rows: Sequence[dict], image_rows: Sequence[dict]) -> list[dict]:
    """Posts (same split and id in both runs) whose errors differ between a text-only and a multimodal run.

    Each: post_id, split, tokens, gold, text (predicted tags), image (predicted tags), text_errors,
    image_errors, effect ("helped" when the image run has fewer errors, "hurt" when more, "changed").
    Sorted by the size of the change, largest first.
    """
    by_key = {(row["split"], row["post_id"]): row for row in image_rows}
    changed = []
    for text_row in text_rows:
        image_row = by_key.get((text_row["split"], text_row["post_id"]))
        if image_row is None or spans_of(text_row["predicted"]) == spans_of(image_row["predicted"]):
            continue
        text_errors, image_errors = post_error_count(text_row), post_error_count(image_row)
        if text_errors == image_errors and set(spans_of(text_row["predicted"])) & set(spans_of(text_row["gold"])) == \
                set(spans_of(image_row["predicted"])) & set(spans_of(image_row["gold"])):
            continue  # different predictions, same outcome
        effect = "helped" if image_errors < text_errors else "hurt" if image_errors > text_errors else "changed"
        changed.append({
            "post_id": text_row["post_id"], "split": text_row["split"], "tokens": text_row["tokens"],
            "gold": text_row["gold"], "text": text_row["predicted"], "image": image_row["predicted"],
            "text_errors": text_errors, "image_errors": image_errors, "effect": effect,
        })
    changed.sort(key=lambda row: (-abs(row["text_errors"] - row["image_errors"]), row["split"], row["post_id"]))
    return changed


def render(tokens: Sequence[str], tags: Sequence[str], joiner: str = "") -> str:
    """The post with its entities marked: 今天[张三]PER去了[北京]LOC."""
    spans = {span.start: span for span in spans_of(tags)}
    pieces: list[str] = []
    index = 0
    while index < len(tokens):
        span = spans.get(index)
        if span is None:
            pieces.append(tokens[index])
            index += 1
            continue
        pieces.append(f"[{joiner.join(tokens[span.start:span.end])}]{span.label}")
        index = span.end
    return joiner.join(pieces)
