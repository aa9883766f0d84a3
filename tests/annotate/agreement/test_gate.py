"""The pilot gate: the bars, the reasons it gives, and its settings from cmner.toml."""

import pytest

from cmner_build.annotate.agreement.measures import AgreementOptions, compute_agreement
from cmner_build.annotate.agreement.data import AnnotatedPost
from cmner_build.annotate.agreement.gate import GateSettings, evaluate_gate
from cmner_build.config import Settings
from cmner_build.errors import ConfigError

from tests.agreement_helpers import spans


def pilot(posts: int, disagree_every: int = 0, label: str = "PER"):
    result = []
    for i in range(posts):
        good = spans((0, 2, label), (3, 5, "LOC"))
        odd = spans((0, 2, label), (3, 6, "LOC")) if disagree_every and i % disagree_every == 0 else good
        result.append(AnnotatedPost("pilot", f"p{i}", "王明在北京读书了", {"a": good, "b": good, "c": odd}))
    return result


def report_of(posts):
    return compute_agreement(posts, AgreementOptions(replicates=200))


def test_passes_when_every_bar_is_met():
    result = evaluate_gate(report_of(pilot(12)), GateSettings())
    assert result.passed and result.reasons == []
    assert {check["name"] for check in result.checks} >= {"posts", "mean_pairwise_strict_f1", "pair a/b"}


def test_fails_below_the_threshold_and_names_the_pair():
    # c disagrees on LOC in every other post: pairs with c get 2*18/(24+24) = 0.75, a/b 1.0, mean 0.833
    result = evaluate_gate(report_of(pilot(12, disagree_every=2)), GateSettings())
    assert not result.passed
    assert any("mean pairwise strict span F1 0.833 is below 0.90" in reason for reason in result.reasons)
    assert any(reason.startswith("pair a / c: strict F1 0.750") for reason in result.reasons)
    assert not any(reason.startswith("pair a / b") for reason in result.reasons)


def test_frequent_labels_are_checked_rare_ones_are_not():
    report = report_of(pilot(30, disagree_every=3))
    # LOC: 30 mentions per annotator, F1 (1 + 2*(2/3*... )) below 0.8 for pairs with c
    loose = GateSettings(threshold=0.5, min_pair_f1=0.5, min_label_f1=0.95, label_min_mentions=20)
    result = evaluate_gate(report, loose)
    assert [r for r in result.reasons if r.startswith("label")] == [
        r for r in result.reasons if r.startswith("label LOC (30 mentions per annotator)")]
    assert len(result.reasons) == 1
    rare = GateSettings(threshold=0.5, min_pair_f1=0.5, min_label_f1=0.95, label_min_mentions=31)
    assert evaluate_gate(report, rare).passed


def test_too_few_posts_and_wide_intervals_fail():
    report = report_of(pilot(4, disagree_every=2))
    result = evaluate_gate(report, GateSettings(threshold=0.1, min_pair_f1=0.1, min_posts=10, max_ci_width=0.01))
    assert result.reasons[0] == "only 4 pilot posts are confirmed by all their annotators (at least 10 needed)"
    assert any("95 % interval" in reason for reason in result.reasons)


def test_no_entity_at_all_fails():
    empty = [AnnotatedPost("pilot", f"p{i}", "好", {"a": (), "b": ()}) for i in range(12)]
    result = evaluate_gate(report_of(empty), GateSettings())
    assert not result.passed
    assert "no annotator pair marked any entity: strict F1 is undefined" in result.reasons


def test_settings_come_from_cmner_toml():
    gate = GateSettings.from_settings(Settings({"agreement": {"pilot_threshold": 0.8, "min_pilot_posts": 3,
                                                              "label_min_mentions": 5}}))
    assert (gate.threshold, gate.min_posts, gate.label_min_mentions, gate.min_pair_f1) == (0.8, 3, 5.0, 0.85)
    with pytest.raises(ConfigError, match="pilot_threshold"):
        GateSettings.from_settings(Settings({"agreement": {"pilot_threshold": "high"}}))
    with pytest.raises(ConfigError, match="between 0 and 1"):
        GateSettings.from_settings(Settings({"agreement": {"pilot_threshold": 90}}))
