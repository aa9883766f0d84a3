"""The terminal review, driven by scripted answers (as a pipe or a file would)."""

import json

from cmner_build.annotate.adjudication.run import merge_and_settle
from cmner_build.annotate.adjudication.review import parse_choice, parse_reason, review
from cmner_build.annotate.adjudication.store import load_posts
from cmner_build.model import Span

from tests.agreement_helpers import add_batch

CODES = ("guideline_gap", "ambiguous", "annotator_slip", "boundary_convention")


def fill(store):
    add_batch(store, "batch-0001", "main", ["ann1", "ann2", "ann3"], {
        "m1": ("我们去了上海迪士尼乐园玩", {"ann1": [(4, 9, "LOC")], "ann2": [(4, 11, "LOC")], "ann3": []}),
        "m2": ("北京和上海", {"ann1": [(0, 2, "LOC"), (3, 5, "ORG")], "ann2": [(0, 2, "ORG"), (3, 5, "LOC")], "ann3": []}),
    })
    merge_and_settle(store, 2)


def scripted(answers):
    queue = list(answers)
    shown = []
    return (lambda prompt: queue.pop(0) if queue else None), shown.append, shown


def test_a_full_review_settles_every_post(workspace):
    store = workspace.store
    fill(store)
    ask, say, shown = scripted(["2", "4 乐园 is part of the name", "x", "1,2", "e 北京 LOC", "1", "s", "n", "2"])
    summary = review(store, load_posts(store, state="open"), ask, say, CODES)
    assert summary.decided == 3 and not summary.stopped
    assert summary.settled == {"m1": "gold", "m2": "gold"}
    assert store.gold_spans() == {"m1": [Span(4, 11, "LOC")], "m2": [Span(0, 2, "LOC")]}
    assert any("boundary" in line for line in shown) and any("← A B" in line or "← C" in line for line in shown)
    assert any(line.strip().startswith("! answer:") for line in shown)  # "x" was refused
    assert any("overlap" in line for line in shown)  # "1,2" picks LOC and ORG on the same characters
    rows = store.query("SELECT post_id, number, decision, reason, note FROM adjudication_clusters ORDER BY post_id, number")
    assert [(r["post_id"], r["number"], json.loads(r["decision"]), r["reason"], r["note"]) for r in rows] == [
        ("m1", 1, [[4, 11, "LOC"]], "boundary_convention", "乐园 is part of the name"),
        ("m2", 1, [[0, 2, "LOC"]], "guideline_gap", None),
        ("m2", 2, [], "ambiguous", None),
    ]


def test_stopping_keeps_decisions_and_resumes_where_it_stopped(workspace):
    store = workspace.store
    fill(store)
    ask, say, _ = scripted(["1", "annotator_slip", "q"])
    first = review(store, load_posts(store, state="open"), ask, say, CODES)
    assert (first.decided, first.stopped, first.remaining, first.settled) == (1, True, 2, {"m1": "gold"})
    ask, say, shown = scripted(["s", "1"])  # end of input after one decision: stops like q
    second = review(store, load_posts(store, state="open"), ask, say, CODES)
    assert (second.decided, second.stopped, second.remaining) == (1, True, 1)
    assert shown[0].startswith("── conflict 1/2: post m2")
    assert load_posts(store, post_ids=["m2"])[0].state == "open"


def test_choice_and_reason_parsing(workspace):
    store = workspace.store
    fill(store)
    post = load_posts(store, post_ids=["m1"])[0]
    cluster = post.merged.clusters[0]
    assert parse_choice("1", post, cluster) == [Span(4, 9, "LOC")]
    assert parse_choice(" s ", post, cluster) == [Span(4, 9, "LOC")]
    assert parse_choice("n", post, cluster) == []
    assert parse_choice("e 上海迪士尼乐园 loc", post, cluster) == [Span(4, 11, "LOC")]
    assert parse_choice("e 上海 LOC; 迪士尼乐园 ORG", post, cluster) == [Span(4, 6, "LOC"), Span(6, 11, "ORG")]
    assert "does not occur" in parse_choice("e 广州 LOC", post, cluster)
    assert "label among" in parse_choice("e 上海 CITY", post, cluster)
    assert parse_choice("3", post, cluster).startswith("answer:")
    assert parse_reason("2", CODES) == ("ambiguous", "")
    assert parse_reason("Annotator_Slip missed it", CODES) == ("annotator_slip", "missed it")
    assert parse_reason("9", CODES) is None and parse_reason("", CODES) is None
