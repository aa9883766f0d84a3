"""Which posts agreement reads: only those every assigned annotator confirmed."""

import pytest

from cmner_build.annotate.agreement.data import latest_version_per_post, load_annotated_posts
from cmner_build.errors import CmnerError
from cmner_build.model import Span

from tests.agreement_helpers import add_batch


def fill(store):
    add_batch(store, "pilot", "pilot", ["ann1", "ann2", "ann3"], {
        "p1": ("北京欢迎你", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "LOC")], "ann3": []}),
        "p2": ("上海", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "LOC")], "ann3": None}),  # ann3 did not confirm
        "p3": ("广州", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "LOC")]}),  # ann3 not pulled at all
    })
    add_batch(store, "batch-0001", "main", ["ann1", "ann2", "ann4"], {
        "m1": ("张三", {"ann1": [(0, 2, "PER")], "ann2": [(0, 2, "PER")], "ann4": [(0, 2, "ORG")]}),
        "p1": ("北京欢迎你", {"ann1": [(0, 2, "ORG")], "ann2": [(0, 2, "LOC")], "ann4": [(0, 2, "LOC")]}),
    })
    add_batch(store, "adjudication-0001", "adjudication", ["ann1"], {"m1": ("张三", {"ann1": [(0, 2, "PER")]})})


def test_only_posts_confirmed_by_every_assigned_annotator(workspace):
    fill(workspace.store)
    pilot = load_annotated_posts(workspace.store, "pilot")
    assert [p.post_id for p in pilot.posts] == ["p1"]
    assert pilot.incomplete == 2
    assert pilot.posts[0].spans_by_annotator == {"ann1": (Span(0, 2, "LOC"),), "ann2": (Span(0, 2, "LOC"),), "ann3": ()}


def test_all_means_pilot_and_main_never_adjudication(workspace):
    fill(workspace.store)
    everything = load_annotated_posts(workspace.store, "all")
    assert [(p.batch_id, p.post_id) for p in everything.posts] == [("pilot", "p1"), ("batch-0001", "m1"),
                                                                   ("batch-0001", "p1")]
    latest = latest_version_per_post(everything.posts)
    assert sorted((p.batch_id, p.post_id) for p in latest) == [("batch-0001", "m1"), ("batch-0001", "p1")]
    assert load_annotated_posts(workspace.store, "all", "batch-0001").batches == ["batch-0001"]


def test_bad_batch_or_round(workspace):
    fill(workspace.store)
    with pytest.raises(CmnerError, match="no batch 'nope'"):
        load_annotated_posts(workspace.store, "all", "nope")
    with pytest.raises(CmnerError, match="is a main batch, not part of round 'pilot'"):
        load_annotated_posts(workspace.store, "pilot", "batch-0001")
    with pytest.raises(CmnerError, match="unknown round"):
        load_annotated_posts(workspace.store, "main")


def test_empty_workspace(workspace):
    result = load_annotated_posts(workspace.store, "pilot")
    assert (result.posts, result.incomplete, result.batches) == ([], 0, [])
