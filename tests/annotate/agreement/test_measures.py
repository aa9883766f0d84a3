"""The agreement report on small corpora computed by hand, cross-checked against statsmodels and krippendorff."""

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from cmner_build.annotate.agreement.measures import AgreementOptions, _Tables, compute_agreement, compute_vs_gold
from cmner_build.annotate.agreement.data import AnnotatedPost
from cmner_build.model import LABELS, Span

from tests.agreement_helpers import spans

NO_BOOTSTRAP = AgreementOptions(replicates=0)


def post(post_id, text, **versions):
    return AnnotatedPost("b1", post_id, text, {name: spans(*triples) for name, triples in versions.items()})


THREE = [
    post("p1", "王小明在北京大学读书", A=[(0, 2, "PER"), (3, 5, "LOC")], B=[(0, 2, "PER"), (3, 6, "LOC")], C=[(0, 2, "PER")]),
    post("p2", "在腾讯发布会", A=[(1, 3, "ORG")], B=[(1, 3, "ORG")], C=[(1, 3, "LOC")]),
]


def test_three_annotators_mean_pairwise_f1_by_hand():
    report = compute_agreement(THREE, NO_BOOTSTRAP)
    # pairs: AB 2*2/(3+3), AC 2*1/(3+2), BC 2*1/(3+2)
    assert report["strict_f1"]["value"] == pytest.approx((2 / 3 + 0.4 + 0.4) / 3)
    assert report["overlap_f1"]["value"] == pytest.approx((1.0 + 0.4 + 0.4) / 3)
    assert report["detection_f1"]["value"] == pytest.approx((2 / 3 + 0.8 + 0.8) / 3)
    labels = report["per_label"]
    assert labels["PER"]["strict_f1"] == pytest.approx(1.0)
    assert labels["LOC"]["strict_f1"] == pytest.approx(0.0)
    assert labels["LOC"]["overlap_f1"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)
    assert labels["ORG"]["strict_f1"] == pytest.approx(1 / 3)
    assert labels["MISC"]["strict_f1"] is None
    assert labels["ORG"]["mentions_per_annotator"] == pytest.approx(2 / 3)
    pairs = {(p["a"], p["b"]): p for p in report["pairs"]}
    assert pairs[("A", "B")]["strict_f1"] == pytest.approx(2 / 3)
    assert pairs[("A", "C")]["strict_f1"] == pytest.approx(0.4)
    assert pairs[("A", "B")]["posts"] == 2
    assert (pairs[("A", "C")]["spans_a"], pairs[("A", "C")]["spans_b"], pairs[("A", "C")]["strict_matches"]) == (3, 2, 1)
    # the only disagreement on p2 is ORG vs LOC between A and C (and B and C)
    labels_index = {label: i for i, label in enumerate(report["confusion"]["labels"])}
    assert pairs[("A", "C")]["confusion"][labels_index["ORG"]][labels_index["LOC"]] == 1
    assert pairs[("A", "C")]["confusion"][labels_index["LOC"]][labels_index["NONE"]] == 1


def char_labels(text, triples):
    labels = ["O"] * len(text)
    for start, end, label in triples:
        for i in range(start, end):
            labels[i] = label
    return labels


def test_chance_corrected_measures_match_the_libraries():
    raw = {"A": [], "B": [], "C": []}
    for p in THREE:
        for name in raw:
            raw[name] += char_labels(p.text, [(s.start, s.end, s.label) for s in p.spans_by_annotator[name]])
    codes = {label: i for i, label in enumerate(LABELS + ("O",))}
    reliability = np.array([[codes[x] for x in raw[name]] for name in "ABC"], dtype=float)
    report = compute_agreement(THREE, NO_BOOTSTRAP)
    assert report["krippendorff_alpha"]["all"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal"))
    table, _ = aggregate_raters(reliability.T)
    assert report["fleiss_kappa"]["all"]["value"] == pytest.approx(fleiss_kappa(table))
    labelled = reliability[:, (reliability != codes["O"]).any(axis=0)]
    assert report["fleiss_kappa"]["annotated"]["value"] == pytest.approx(fleiss_kappa(aggregate_raters(labelled.T)[0]))
    assert report["krippendorff_alpha"]["annotated"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=labelled, level_of_measurement="nominal"))
    assert report["fleiss_kappa"]["raters"] == 3
    assert report["characters"] == 16


def test_boundary_only_and_type_only_posts_by_hand():
    boundary = compute_agreement([post("b", "我们去了上海迪士尼乐园玩", A=[(4, 9, "LOC")], B=[(4, 11, "LOC")])],
                                 NO_BOOTSTRAP)
    assert (boundary["strict_f1"]["value"], boundary["overlap_f1"]["value"], boundary["detection_f1"]["value"]) == (
        0.0, 1.0, 0.0)
    assert boundary["pairs"][0]["cohen_kappa"]["all"] == pytest.approx(50 / 74)
    assert boundary["pairs"][0]["cohen_kappa"]["annotated"] == pytest.approx(0.0)
    assert boundary["krippendorff_alpha"]["all"]["value"] == pytest.approx(196 / 288)
    assert boundary["fleiss_kappa"]["all"]["value"] == pytest.approx(2 / 3)
    typed = compute_agreement([post("t", "鸟巢今晚有比赛", A=[(0, 2, "LOC")], B=[(0, 2, "ORG")])], NO_BOOTSTRAP)
    assert (typed["strict_f1"]["value"], typed["overlap_f1"]["value"], typed["detection_f1"]["value"]) == (
        0.0, 0.0, 1.0)
    assert typed["pairs"][0]["cohen_kappa"]["all"] == pytest.approx(10 / 24)
    assert typed["confusion"]["pooled_both_directions"][1][2] == 1  # LOC -> ORG
    assert typed["confusion"]["pooled_both_directions"][2][1] == 1  # and back


def test_empty_annotations_leave_every_measure_undefined():
    report = compute_agreement([post("e1", "今天天气不错", A=[], B=[], C=[]), post("e2", "好", A=[], B=[], C=[])])
    assert report["posts"] == 2
    assert report["strict_f1"] == {"value": None, "ci": None}
    assert all(entry["strict_f1"] is None for entry in report["per_label"].values())
    assert report["krippendorff_alpha"]["all"]["value"] is None
    assert report["fleiss_kappa"]["all"]["value"] is None
    assert report["pairs"][0]["cohen_kappa"] == {"all": None, "annotated": None}
    assert report["lowest_posts"] == []  # empty vs empty is perfect for ranking posts


def test_no_posts():
    assert compute_agreement([]) == {"posts": 0, "annotators": [], "pairs_count": 0}


def test_lowest_posts_are_ranked_with_their_versions():
    posts = THREE + [post("p3", "好", A=[], B=[], C=[])]
    report = compute_agreement(posts, AgreementOptions(replicates=0, lowest=1))
    assert [entry["post_id"] for entry in report["lowest_posts"]] == ["p2"]  # 1/3 < p1's 0.6
    assert report["lowest_posts"][0]["strict_f1"] == pytest.approx(1 / 3)
    assert report["lowest_posts"][0]["versions"]["C"] == [[1, 3, "LOC", "腾讯"]]


def test_rotating_annotators_use_pairs_that_share_posts():
    posts = [post("x", "北京", A=[(0, 2, "LOC")], B=[(0, 2, "LOC")]), post("y", "上海", B=[(0, 2, "LOC")], C=[])]
    report = compute_agreement(posts, NO_BOOTSTRAP)
    assert [(p["a"], p["b"], p["posts"]) for p in report["pairs"]] == [("A", "B", 1), ("B", "C", 1)]
    assert report["strict_f1"]["value"] == pytest.approx(0.5)


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate():
    posts = THREE * 5
    first = compute_agreement(posts, AgreementOptions(replicates=300, seed=3))
    again = compute_agreement(posts, AgreementOptions(replicates=300, seed=3))
    other = compute_agreement(posts, AgreementOptions(replicates=300, seed=4))
    assert first["strict_f1"]["ci"] == again["strict_f1"]["ci"]
    assert first["krippendorff_alpha"]["all"]["ci"] == again["krippendorff_alpha"]["all"]["ci"]
    assert first["strict_f1"]["ci"] != other["strict_f1"]["ci"]
    low, high = first["strict_f1"]["ci"]
    assert low < first["strict_f1"]["value"] < high
    same = compute_agreement([THREE[0]] * 6, AgreementOptions(replicates=50))
    assert same["strict_f1"]["ci"] == pytest.approx([same["strict_f1"]["value"]] * 2)


def test_the_bootstrap_statistic_on_the_full_sample_is_the_point_estimate():
    posts = THREE + [post("p4", "张三去了广州", A=[(0, 2, "PER"), (4, 6, "LOC")], B=[(0, 2, "PER")], C=[(4, 6, "LOC")])]
    tables = _Tables(posts)
    full = tables.statistics(tables.components().sum(axis=0, keepdims=True))[0]
    report = compute_agreement(posts, NO_BOOTSTRAP)
    n_metrics = 11
    assert full[0] == pytest.approx(report["strict_f1"]["value"])
    assert full[n_metrics : n_metrics + 3] == pytest.approx([p["strict_f1"] for p in report["pairs"]])
    chars = full[n_metrics + 3 :]
    assert chars[0] == pytest.approx(report["krippendorff_alpha"]["all"]["value"])
    assert chars[1] == pytest.approx(report["krippendorff_alpha"]["annotated"]["value"])
    assert chars[2] == pytest.approx(report["fleiss_kappa"]["all"]["value"])
    assert chars[3] == pytest.approx(report["fleiss_kappa"]["annotated"]["value"])


def test_each_annotator_against_gold_by_hand():
    gold = {"p1": [Span(0, 2, "PER"), Span(3, 5, "LOC")], "p2": [Span(1, 3, "ORG")]}
    report = compute_vs_gold(THREE, gold, AgreementOptions(replicates=100))
    by_name = {entry["annotator"]: entry for entry in report["annotators"]}
    assert by_name["A"]["strict"]["f1"] == pytest.approx(1.0)
    assert by_name["B"]["strict"]["precision"] == pytest.approx(2 / 3)
    assert by_name["B"]["strict"]["recall"] == pytest.approx(2 / 3)
    assert by_name["B"]["overlap"]["f1"] == pytest.approx(1.0)
    assert (by_name["C"]["strict"]["precision"], by_name["C"]["strict"]["recall"]) == pytest.approx((0.5, 1 / 3))
    assert by_name["C"]["strict"]["f1"] == pytest.approx(0.4)
    assert by_name["C"]["per_label"]["LOC"] == pytest.approx(0.0)
    assert report["strict_f1"]["value"] == pytest.approx((1 + 2 / 3 + 0.4) / 3)
    assert by_name["A"]["strict"]["ci"] == pytest.approx([1.0, 1.0])
