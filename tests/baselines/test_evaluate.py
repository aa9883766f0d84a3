"""seqeval scores on hand-built predictions, in percent, with the per-type layout of Table 2."""

from __future__ import annotations

import pytest

from cmner_build.baselines.evaluate import score


def test_micro_scores_and_per_type_f1():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O", "O"]]
    result = score(gold, predicted)
    # 3 gold, 3 predicted, 2 correct.
    assert result["precision"] == 66.67 and result["recall"] == 66.67 and result["f1"] == 66.67
    # ORG: 1 gold, 2 predicted, 1 correct -> P 50, R 100, F1 66.67; LOC missed; MISC absent.
    assert result["per_type"] == {"PER": 100.0, "LOC": 0.0, "ORG": 66.67, "MISC": 0.0}


def test_boundary_errors_count_as_both_a_false_positive_and_a_miss():
    gold = [["B-LOC", "I-LOC", "I-LOC", "O", "B-MISC"]]
    predicted = [["B-LOC", "I-LOC", "O", "O", "B-MISC"]]
    result = score(gold, predicted)
    assert (result["precision"], result["recall"], result["f1"]) == (50.0, 50.0, 50.0)
    assert result["per_type"]["MISC"] == 100.0


def test_lenient_mode_an_orphan_i_tag_starts_an_entity():
    result = score([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]])
    assert result["f1"] == 100.0


def test_no_entities_anywhere_scores_zero_without_warnings_or_errors():
    assert score([["O", "O"]], [["O", "O"]])["f1"] == 0.0


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError):
        score([["O", "O"]], [["O"]])
