"""Entity-level scores with seqeval, in percent, in the layout of the paper's Table 2.

seqeval's default (lenient, conlleval) mode is used, as by both reference code bases: an I- tag that
does not continue an entity starts one.
"""

from __future__ import annotations

import warnings
from typing import Sequence

from cmner_build.model import LABELS


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """{"precision", "recall", "f1", "per_type": {label: f1}}, all in percent (0-100), micro-averaged."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    gold = [list(tags) for tags in gold]
    predicted = [list(tags) for tags in predicted]
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences differ in number or length")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when a type has no gold or no predicted entity
        report = classification_report(gold, predicted, output_dict=True, zero_division=0)
        result = {
            "precision": _percent(precision_score(gold, predicted, zero_division=0)),
            "recall": _percent(recall_score(gold, predicted, zero_division=0)),
            "f1": _percent(f1_score(gold, predicted, zero_division=0)),
        }
    result["per_type"] = {label: _percent(report.get(label, {}).get("f1-score", 0.0)) for label in LABELS}
    return result


def _percent(value: float) -> float:
    return round(float(value) * 100.0, 2)
