"""Merges in the store: settling majority posts, re-runs, the auto policy, and what is never overwritten."""

import json

import pytest

from cmner_build.annotate.adjudication.run import merge_and_settle
from cmner_build.annotate.adjudication.store import load_posts, record_decision, settle_post
from cmner_build.errors import CmnerError
from cmner_build.model import Span

from tests.agreement_helpers import add_batch

ANN = ["ann1", "ann2", "ann3"]


def fill(store):
    add_batch(store, "batch-0001", "main", ANN, {
        "agree": ("王小明在北京大学读书", {"ann1": [(0, 3, "PER")], "ann2": [(0, 3, "PER")], "ann3": [(0, 2, "PER")]}),
        "empty": ("今天天气不错", {"ann1": [], "ann2": [], "ann3": []}),
        "typed": ("鸟巢今晚有比赛", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "ORG")], "ann3": []}),
        "waiting": ("张三", {"ann1": [(0, 2, "PER")], "ann2": None, "ann3": []}),
    })


def status(store, post_id):
    row = store.query("SELECT status, drop_reason FROM posts WHERE post_id = ?", (post_id,))[0]
    return row["status"], row["drop_reason"]


def test_majority_posts_are_settled_and_empty_ones_dropped(workspace):
    store = workspace.store
    fill(store)
    summary = merge_and_settle(store, 2)
    assert (summary.posts, summary.incomplete) == (3, 1)
    assert summary.settled_now == {"agree": "gold", "empty": "dropped"}
    assert store.gold_spans() == {"agree": [Span(0, 3, "PER")]}
    assert status(store, "agree") == ("gold", None)
    assert status(store, "empty") == ("dropped", "no_entities")
    assert status(store, "typed") == ("annotating", None)
    assert summary.clusters_by_type == {"boundary": 0, "type": 1, "presence": 0, "mixed": 0}
    assert summary.open_by_type == {"boundary": 0, "type": 1, "presence": 0, "mixed": 0}
    assert store.scalar("SELECT source FROM gold_spans WHERE post_id = 'agree'") == "adjudication"
    event = store.query("SELECT data FROM events WHERE stage = 'adjudicate' AND post_id = 'agree'")[0]
    assert json.loads(event["data"])["gold"] == [[0, 3, "PER"]]


def test_auto_majority_decides_with_the_suggestion_and_its_reason_code(workspace):
    store = workspace.store
    fill(store)
    summary = merge_and_settle(store, 2, auto="majority")
    assert summary.auto_decided == 1
    decided = store.query("SELECT post_id, decision, reason, decided_via FROM adjudication_clusters")
    assert [(r["post_id"], json.loads(r["decision"]), r["reason"], r["decided_via"]) for r in decided] == [
        ("typed", [], "auto_majority", "auto_majority"),  # LOC vs ORG vs nothing: no majority
    ]
    outvoted = json.loads(store.scalar("SELECT outvoted FROM adjudication_posts WHERE post_id = 'agree'"))
    assert outvoted == [{"start": 0, "end": 2, "label": "PER", "voters": ["C"]}]
    assert status(store, "typed") == ("dropped", "no_entities")
    assert store.scalar("SELECT settled_via FROM adjudication_posts WHERE post_id = 'typed'") == "auto_majority"


def test_rerun_keeps_settled_posts_and_remerges_changed_open_ones(workspace):
    store = workspace.store
    fill(store)
    merge_and_settle(store, 2)
    with store.transaction():
        record_decision(store, "typed", 1, [Span(0, 2, "ORG")], "ambiguous", "", "interactive")
    again = merge_and_settle(store, 2)
    assert (again.sync.added, again.sync.unchanged, again.settled_now) == (0, 3, {"typed": "gold"})
    assert store.gold_spans(["typed"]) == {"typed": [Span(0, 2, "ORG")]}
    # ann3 changes its mind on a settled post: kept and reported, never silently redone
    with store.transaction():
        store.execute("INSERT INTO annotation_spans VALUES ('batch-0001', 'agree', 'ann1', 4, 6, 'LOC')")
    third = merge_and_settle(store, 2)
    assert third.sync.changed_after_settling == ["agree"]
    assert store.gold_spans(["agree"]) == {"agree": [Span(0, 3, "PER")]}


def test_open_post_with_new_versions_is_merged_again(workspace):
    store = workspace.store
    fill(store)
    merge_and_settle(store, 2)
    with store.transaction():
        store.execute("INSERT INTO annotation_spans VALUES ('batch-0001', 'typed', 'ann3', 0, 2, 'ORG')")
    summary = merge_and_settle(store, 2)
    assert summary.sync.remerged == ["typed"]
    assert summary.settled_now == {"typed": "gold"}  # ORG now has two votes
    assert store.gold_spans(["typed"]) == {"typed": [Span(0, 2, "ORG")]}


def test_posts_dropped_by_another_stage_are_not_resurrected(workspace):
    store = workspace.store
    fill(store)
    with store.transaction():
        store.set_status("agree", "dropped", "near_duplicate")
    summary = merge_and_settle(store, 2)
    assert summary.sync.skipped_dropped == ["agree"]
    assert status(store, "agree") == ("dropped", "near_duplicate")
    assert "agree" not in store.gold_spans()


def test_imported_gold_is_replaced_but_kept_in_the_event_log(workspace):
    store = workspace.store
    fill(store)
    with store.transaction():
        store.replace_gold_spans("agree", [Span(4, 8, "ORG")], "import")
    merge_and_settle(store, 2)
    assert store.gold_spans(["agree"]) == {"agree": [Span(0, 3, "PER")]}
    data = json.loads(store.scalar("SELECT data FROM events WHERE kind = 'settled' AND post_id = 'agree'"))
    assert data["replaced_gold"] == [{"start": 4, "end": 8, "label": "ORG", "source": "import"}]


def test_settling_refuses_spans_that_overlap_or_a_changed_text(workspace):
    store = workspace.store
    fill(store)
    merge_and_settle(store, 2)
    post = load_posts(store, post_ids=["typed"])[0]
    with pytest.raises(CmnerError, match="overlaps"):
        settle_post(store, post, [Span(0, 2, "LOC"), Span(1, 3, "ORG")], "interactive")
    with store.transaction():
        store.execute("UPDATE posts SET text = '鸟巢今晚有球赛' WHERE post_id = 'typed'")
    with pytest.raises(CmnerError, match="text changed after it was pushed"):
        settle_post(store, post, [Span(0, 2, "LOC")], "interactive")
    assert load_posts(store, post_ids=["typed"])[0].state == "open"
    assert "typed" not in store.gold_spans()
