"""The consistency audit finds planted inconsistencies, each with the right suggestion."""

from __future__ import annotations

from dataclasses import dataclass, field

from cmner_build.label_issues import LabelIssue, combine
from cmner_build.model import Span
from cmner_build.stats.audit.consistency import consistency_issues


@dataclass
class P:
    post_id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    tokenization: str = "char"


def spans_of(text: str, *marks: tuple[str, str], nth: int = 0) -> list[Span]:
    found = []
    for surface, label in marks:
        start = text.index(surface)
        found.append(Span(start, start + len(surface), label))
    return found


def corpus() -> list[P]:
    posts = []
    for i in range(8):
        text = f"昨晚曼联在主场迎战利物浦，第{i}轮比赛"
        posts.append(P(f"ok{i}", text, spans_of(text, ("曼联", "ORG"), ("利物浦", "ORG"))))
    for i in range(4):
        text = f"北京大学的学生去了上海，第{i}次"
        posts.append(P(f"bd{i}", text, spans_of(text, ("北京大学", "ORG"), ("上海", "LOC"))))
    # planted: a type flip of a frequent entity
    text = "昨晚曼联在主场迎战利物浦，补赛"
    posts.append(P("flip", text, spans_of(text, ("曼联", "PER"), ("利物浦", "ORG"))))
    # planted: a boundary cut ("北京" inside what the corpus labels as "北京大学")
    text = "北京大学的学生去了上海，又一次"
    posts.append(P("cut", text, spans_of(text, ("北京", "LOC"), ("上海", "LOC"))))
    # planted: a missed occurrence of 利物浦
    text = "昨晚曼联在主场迎战利物浦，再赛"
    posts.append(P("miss", text, spans_of(text, ("曼联", "ORG"))))
    return posts


def by_post(issues: list[LabelIssue]) -> dict[str, list[LabelIssue]]:
    found: dict[str, list[LabelIssue]] = {}
    for issue in issues:
        found.setdefault(issue.post_id, []).append(issue)
    return found


def test_each_planted_inconsistency_is_found_with_the_right_suggestion():
    issues = consistency_issues(corpus())
    found = by_post(issues)
    assert set(found) == {"flip", "cut", "miss"}, [(i.post_id, i.reason) for i in issues]
    (flip,) = found["flip"]
    assert flip.kind == "type" and flip.gold == [Span(2, 4, "PER")] and flip.suggestion == [Span(2, 4, "ORG")]
    (cut,) = found["cut"]
    assert cut.kind == "boundary"
    assert cut.gold == [Span(0, 2, "LOC")] and cut.suggestion == [Span(0, 4, "ORG")]
    assert cut.evidence["other_way"] == 4 and cut.evidence["this_way"] == 0
    (miss,) = found["miss"]
    assert miss.kind == "missed" and miss.gold == [] and miss.suggestion == [Span(9, 12, "ORG")]
    # ten places against one outrank the weaker cases; every reason names the string
    assert "曼联" in flip.reason and "北京大学" in cut.reason and "利物浦" in miss.reason


def test_an_entity_inside_a_longer_entity_is_not_a_miss_and_nesting_is_not_a_cut():
    posts = corpus()[:12]  # only the consistent posts: 北京大学 contains 北京? no: 北京 is never labelled
    posts.append(P("b1", "北京的天气很好", [Span(0, 2, "LOC")]))
    posts.append(P("b2", "北京的冬天很冷", [Span(0, 2, "LOC")]))
    issues = consistency_issues(posts)
    # "北京" inside the labelled "北京大学" is not unlabelled, and labelling the longer name is consistent
    assert issues == [], [(i.post_id, i.kind, i.reason) for i in issues]


def test_strings_labelled_less_often_than_not_are_not_called_missed():
    posts = [P(f"n{i}", f"今天苹果很甜第{i}个") for i in range(5)]
    posts += [P(f"a{i}", f"苹果发布会第{i}场", [Span(0, 2, "ORG")]) for i in range(2)]
    assert [i for i in consistency_issues(posts) if i.kind == "missed"] == []


def test_whitespace_tokens_only_match_whole_tokens():
    posts = [P(f"t{i}", f"I love New York {i}", [Span(7, 15, "LOC")], "whitespace") for i in range(3)]
    posts.append(P("inside", "The NewYorker New Yorkers", [], "whitespace"))  # no whole-token match
    posts.append(P("whole", "back in New York again", [], "whitespace"))
    issues = consistency_issues(posts)
    assert [(i.post_id, i.suggestion) for i in issues] == [("whole", [Span(8, 16, "LOC")])]


def test_combine_puts_what_both_signals_flag_first():
    a = LabelIssue("p", "consistency", "type", 0, 2, [], [], 0.9, "a")
    b = LabelIssue("q", "consistency", "missed", 0, 2, [], [], 0.8, "b")
    c = LabelIssue("q", "confident_learning", "model", 1, 3, [], [], 0.5, "c")
    d = LabelIssue("r", "confident_learning", "model", 0, 1, [], [], 0.9, "d")
    ranked = combine([[a, b], [c, d]])
    assert [(i.post_id, i.signals) for i in ranked] == [
        ("q", ["consistency", "confident_learning"]), ("p", ["consistency"]), ("r", ["confident_learning"])]


def test_a_context_where_the_corpus_never_labels_the_string_is_a_convention_not_a_miss():
    posts = [P(f"city{i}", f"我在北京住了{i}年", [Span(2, 4, "LOC")]) for i in range(5)]
    posts += [P(f"time{i}", f"北京时间{i}点开球") for i in range(3)]  # 北京时间: never labelled, a convention
    posts.append(P("miss", "他去北京出差"))
    found = {(issue.post_id, issue.kind) for issue in consistency_issues(posts)}
    assert found == {("miss", "missed")}
