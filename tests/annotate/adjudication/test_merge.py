"""Merging three versions: majority spans, outvoted spans, and the four conflict types."""

from cmner_build.annotate.adjudication.merge import Candidate, alias_names, character_majority, merge_post
from cmner_build.annotate.agreement.data import AnnotatedPost
from cmner_build.model import Span

from tests.agreement_helpers import spans


def merged(text, min_votes=2, **versions):
    return merge_post(AnnotatedPost("b", "p", text, {k: spans(*v) for k, v in versions.items()}), min_votes)


def only_cluster(result):
    assert len(result.clusters) == 1
    return result.clusters[0]


def test_majority_spans_are_accepted_and_minority_overlaps_outvoted():
    result = merged("王小明在北京大学读书", ann1=[(0, 3, "PER"), (4, 8, "ORG")], ann2=[(0, 3, "PER"), (4, 8, "ORG")],
                    ann3=[(0, 3, "PER"), (4, 6, "LOC")])
    assert result.accepted == [Span(0, 3, "PER"), Span(4, 8, "ORG")]
    assert result.outvoted == [Candidate(Span(4, 6, "LOC"), ("C",))]
    assert result.clusters == []
    assert result.aliases == {"A": "ann1", "B": "ann2", "C": "ann3"}
    assert result.versions["C"] == [Span(0, 3, "PER"), Span(4, 6, "LOC")]


def test_boundary_conflict():
    cluster = only_cluster(merged("我们去了上海迪士尼乐园玩", a=[(4, 9, "LOC")], b=[(4, 11, "LOC")], c=[]))
    assert cluster.conflict_type == "boundary"
    assert (cluster.start, cluster.end, cluster.silent) == (4, 11, ["C"])
    assert cluster.suggestion == [Span(4, 9, "LOC")]  # 上海迪士尼 has two votes per character, 乐园 one


def test_split_against_majority_is_outvoted():
    result = merged("北京鸟巢", a=[(0, 4, "LOC")], b=[(0, 2, "LOC"), (2, 4, "LOC")], c=[(0, 2, "LOC")])
    assert result.accepted == [Span(0, 2, "LOC")]
    # (0,4) overlaps the accepted span; (2,4) does not and is a presence conflict of its own
    assert [c.span for c in result.outvoted] == [Span(0, 4, "LOC")]
    assert [(c.conflict_type, c.start, c.end) for c in result.clusters] == [("presence", 2, 4)]


def test_type_conflict_and_its_silent_annotator():
    cluster = only_cluster(merged("鸟巢今晚有比赛", a=[(0, 2, "LOC")], b=[(0, 2, "ORG")], c=[]))
    assert cluster.conflict_type == "type"
    assert [(c.span.label, c.voters) for c in cluster.candidates] == [("LOC", ("A",)), ("ORG", ("B",))]
    assert cluster.silent == ["C"]
    assert cluster.suggestion == []


def test_presence_conflict():
    result = merged("李华说腾讯很好", a=[(0, 2, "PER"), (3, 5, "ORG")], b=[(0, 2, "PER")], c=[(0, 2, "PER")])
    cluster = only_cluster(result)
    assert (cluster.conflict_type, cluster.silent, cluster.suggestion) == ("presence", ["B", "C"], [])
    assert result.accepted == [Span(0, 2, "PER")]


def test_mixed_conflict_with_a_character_majority_suggestion():
    cluster = only_cluster(merged("上海迪士尼乐园", a=[(0, 5, "LOC")], b=[(0, 7, "LOC")], c=[(0, 5, "ORG")]))
    assert cluster.conflict_type == "mixed"
    assert cluster.suggestion == [Span(0, 5, "LOC")]  # chars 0..4: LOC twice, ORG once


def test_three_way_type_tie_suggests_nothing():
    cluster = only_cluster(merged("鸟巢", a=[(0, 2, "LOC")], b=[(0, 2, "ORG")], c=[(0, 2, "MISC")]))
    assert cluster.conflict_type == "type" and cluster.silent == [] and cluster.suggestion == []


def test_empty_versions_give_nothing_to_decide():
    result = merged("今天天气不错", a=[], b=[], c=[])
    assert (result.accepted, result.clusters, result.outvoted) == ([], [], [])


def test_min_votes_three_needs_unanimity():
    result = merged("北京上海", min_votes=3, a=[(0, 2, "LOC"), (2, 4, "LOC")], b=[(0, 2, "LOC"), (2, 4, "LOC")],
                    c=[(0, 2, "LOC")])
    assert result.accepted == [Span(0, 2, "LOC")]
    cluster = only_cluster(result)
    assert (cluster.conflict_type, [c.voters for c in cluster.candidates]) == ("presence", [("A", "B")])
    assert cluster.suggestion == []  # two votes are not three


def test_overlapping_majorities_contradict_each_other():
    # five annotators: (0,2) and (0,4) both reach two votes
    result = merged("北京鸟巢", a=[(0, 2, "LOC")], b=[(0, 2, "LOC")], c=[(0, 4, "LOC")], d=[(0, 4, "LOC")], e=[])
    assert result.accepted == []
    cluster = only_cluster(result)
    assert cluster.conflict_type == "boundary"
    assert cluster.suggestion == [Span(0, 4, "LOC")]  # chars 0-1 have 4 votes, 2-3 have 2


def test_clusters_are_numbered_in_text_order_and_hash_follows_input():
    first = merged("张三在北京和上海", a=[(3, 5, "LOC"), (6, 8, "ORG")], b=[(3, 5, "ORG"), (6, 8, "LOC")], c=[])
    assert [(c.number, c.start) for c in first.clusters] == [(1, 3), (2, 6)]
    again = merged("张三在北京和上海", a=[(3, 5, "LOC"), (6, 8, "ORG")], b=[(3, 5, "ORG"), (6, 8, "LOC")], c=[])
    other = merged("张三在北京和上海", a=[(3, 5, "LOC"), (6, 8, "ORG")], b=[(3, 5, "ORG")], c=[])
    assert first.input_hash == again.input_hash != other.input_hash
    assert merged("张三", min_votes=3, a=[], b=[]).input_hash != merged("张三", a=[], b=[]).input_hash


def test_aliases_and_character_majority_helpers():
    assert alias_names(3) == ["A", "B", "C"]
    assert alias_names(28)[-2:] == ["AA", "AB"]
    votes = [Candidate(Span(0, 3, "PER"), ("A", "B")), Candidate(Span(2, 5, "PER"), ("C",))]
    assert character_majority(votes, 2) == [Span(0, 3, "PER")]
    assert character_majority(votes, 1) == [Span(0, 5, "PER")]
