"""Model in the loop: suggestion outcomes, the uncertainty order, the pilot's refusal, and a real Doccano
round trip (suggestions arrive on the right UTF-16 offsets for every annotator, come back marked)."""

from __future__ import annotations

import json
import random
from collections import Counter
from types import SimpleNamespace

import pytest

from cmner_build.annotate.batching import uncertainty_order
from cmner_build.annotate.suggestions import suggestion_outcomes
from cmner_build.baselines.predict import store_predictions
from cmner_build.model import Span
from cmner_build.workspace import Workspace

from tests.annotate.test_doccano_flow import pass_pilot_gate, set_up
from tests.doccano_support import add_ready_posts, doccano, utf16_offset  # noqa: F401 (fixture)
from tests.helpers import run_cli

RUN = "20261201-120000-acn-none-s42-abcd"


def test_outcomes_kept_changed_deleted_and_added():
    suggested = [Span(0, 2, "PER"), Span(4, 6, "LOC"), Span(8, 10, "ORG"), Span(12, 14, "MISC")]
    final = [Span(0, 2, "PER"), Span(4, 7, "LOC"), Span(8, 10, "MISC"), Span(20, 22, "PER"), Span(24, 25, "LOC")]
    outcomes, added = suggestion_outcomes(suggested, final)
    assert outcomes == {Span(0, 2, "PER"): "kept", Span(4, 6, "LOC"): "changed", Span(8, 10, "ORG"): "changed",
                        Span(12, 14, "MISC"): "deleted"}
    assert added == 2
    assert suggestion_outcomes([], [Span(0, 1, "PER")]) == ({}, 1)


def _margins(count: int, seed: int):
    rng = random.Random(seed)
    topics = {f"p{i:03d}": ("体育", "旅游", "旅游", "科技", "科技", "科技")[i % 6] for i in range(count)}
    return {post_id: round(rng.random(), 3) for post_id in topics}, topics


def test_uncertainty_order_is_deterministic_least_sure_first_and_keeps_the_topic_mix():
    margins, topics = _margins(120, 1)
    order = uncertainty_order(margins, topics, seed=7)
    assert order == uncertainty_order(dict(reversed(list(margins.items()))), topics, seed=7)
    assert sorted(order) == sorted(margins)
    whole = Counter(topics.values())
    for start in range(0, 120, 30):  # every batch of 30 has the topic mix of the whole (1 : 2 : 3)
        batch = Counter(topics[p] for p in order[start : start + 30])
        assert all(abs(batch[t] - whole[t] * 30 / 120) <= 1 for t in whole), batch
    for topic in whole:  # within a topic, least sure first
        within = [margins[p] for p in order if topics[p] == topic]
        assert within == sorted(within)
    first_batch = order[:30]  # the least sure posts overall come first
    assert sum(margins[p] for p in first_batch) / 30 < sum(margins.values()) / 120 - 0.15


def test_uncertainty_order_breaks_ties_with_the_seed():
    margins = {f"p{i}": 0.5 for i in range(20)}
    topics = {post_id: None for post_id in margins}
    assert uncertainty_order(margins, topics, 1) == uncertainty_order(margins, topics, 1)
    assert uncertainty_order(margins, topics, 1) != uncertainty_order(margins, topics, 2)


def _predictions(texts: dict[str, str], spans: dict[str, list[tuple[str, str, float]]], margins: dict[str, float]):
    """What `predict` stores, made by hand: spans (piece of the text, label, confidence) per post."""
    predictions = []
    for post_id, text in texts.items():
        items = []
        for piece, label, confidence in spans.get(post_id, []):
            start = text.index(piece)
            items.append(SimpleNamespace(start=start, end=start + len(piece), label=label, confidence=confidence))
        predictions.append(SimpleNamespace(post_id=post_id, text=text, margin=margins.get(post_id, 0.5), spans=items))
    return predictions


def test_the_pilot_refuses_suggestions_and_the_order_needs_a_run(workspace: Workspace):
    add_ready_posts(workspace.store, {"a1": "张三在北京", "a2": "李四在上海"})
    refused = run_cli("-w", workspace.root, "annotate", "push", "--pilot", "2", "--suggest", RUN)
    assert refused.exit_code == 2 and "pilot is never pre-filled" in refused.error
    refused = run_cli("-w", workspace.root, "annotate", "push", "--pilot", "2", "--order", "uncertainty", RUN)
    assert refused.exit_code == 2 and "random sample" in refused.error
    missing = run_cli("-w", workspace.root, "annotate", "push", "--order", "uncertainty")
    assert missing.exit_code == 2 and "needs a run" in missing.error
    unknown = run_cli("-w", workspace.root, "annotate", "push", "--suggest", RUN)
    assert unknown.exit_code == 2 and "predict" in unknown.error
    store_predictions(workspace.store, RUN, _predictions({"a1": "张三在北京"}, {}, {}))
    partial = run_cli("-w", workspace.root, "annotate", "push", "--force", "--order", "uncertainty", RUN[:20])
    assert partial.exit_code == 2 and "1 posts have no prediction" in partial.error
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 0


def test_uncertainty_order_plans_batches_least_sure_first(workspace: Workspace):
    from cmner_build.annotate.push import plan_main_batches

    margins, topics = _margins(12, 3)
    for topic in set(topics.values()):
        add_ready_posts(workspace.store, {p: f"第{p}条" for p, t in topics.items() if t == topic}, topic=topic)
    store_predictions(workspace.store, RUN, _predictions({p: f"第{p}条" for p in margins}, {}, margins))
    created = plan_main_batches(workspace.store, ["a", "b", "c"], 6, 3, seed=4, order_run=RUN)
    first = {row[0] for row in workspace.store.query("SELECT post_id FROM batch_posts WHERE batch_id = ?", (created[0],))}
    assert first == set(uncertainty_order(margins, topics, 4)[:6])
    assert json.loads(workspace.store.scalar("SELECT meta FROM batches WHERE batch_id = ?", (created[0],)))["order_run"] == RUN


# -- served ----------------------------------------------------------------------------------------

POSTS = {
    "s01": "😀今天去上海见了李华，腾讯的offer到手了！",
    "s02": "𠀀野家在广州开了新店👍北京也有",
    "s03": "今天天气不错。",
}
SUGGESTED = {
    "s01": [("上海", "LOC", 0.9), ("李华", "PER", 0.8), ("腾讯", "ORG", 0.3)],
    "s02": [("𠀀野家", "ORG", 0.7), ("广州", "LOC", 0.95), ("北京", "LOC", 0.6)],
}


def _span(post_id: str, piece: str, label: str) -> Span:
    start = POSTS[post_id].index(piece)
    return Span(start, start + len(piece), label)


@pytest.mark.doccano
def test_suggestions_reach_every_annotator_on_utf16_offsets_and_come_back_marked(workspace: Workspace, doccano):
    from doccano_client import DoccanoClient

    passwords = set_up(workspace, doccano.url)
    workspace.store.execute("DELETE FROM posts")  # set_up's posts: only ours here
    add_ready_posts(workspace.store, POSTS)
    store_predictions(workspace.store, RUN, _predictions(POSTS, SUGGESTED, {}))
    pass_pilot_gate(workspace)
    pushed = run_cli("-w", workspace.root, "annotate", "push", "--suggest", RUN[:12], "--min-confidence", "0.5")
    assert pushed.exit_code == 0, pushed.error or pushed.output
    assert "15 suggested spans pre-filled" in pushed.output  # 5 spans at or above 0.5, 3 annotators
    project_id = workspace.store.scalar("SELECT project_id FROM batches WHERE batch_id = 'batch-0001'")
    expected = {post_id: {_span(post_id, piece, label) for piece, label, confidence in spans if confidence >= 0.5}
                for post_id, spans in SUGGESTED.items()}

    clients = {}
    for annotator in ("ann1", "ann2", "ann3"):
        client = DoccanoClient(doccano.url)
        client.login(username=annotator, password=passwords[annotator])
        clients[annotator] = client
        examples = {example.meta["post_id"]: example for example in client.list_examples(project_id)}
        labels = {label.id: label.text for label in client.list_label_types(project_id, "span")}
        for post_id, text in POSTS.items():
            got = {(s.start_offset, s.end_offset, labels[s.label]) for s in client.list_spans(project_id, examples[post_id].id)}
            want = {(utf16_offset(text, s.start), utf16_offset(text, s.end), s.label) for s in expected.get(post_id, ())}
            assert got == want, (annotator, post_id)
            assert not examples[post_id].is_confirmed  # suggestions are unconfirmed work

    again = run_cli("-w", workspace.root, "annotate", "push")  # resuming sends nothing twice
    assert again.exit_code == 0 and "suggested spans" not in again.output
    client = clients["ann1"]
    examples = {example.meta["post_id"]: example for example in client.list_examples(project_id)}
    assert len(client.list_spans(project_id, examples["s01"].id)) == 2

    # ann1 accepts everything; ann2 deletes 北京, relabels 𠀀野家 as MISC and adds 李华's miss 腾讯;
    # ann3 leaves s02 unconfirmed.
    for annotator, client in clients.items():
        examples = {example.meta["post_id"]: example for example in client.list_examples(project_id)}
        labels = {label.text: label.id for label in client.list_label_types(project_id, "span")}
        if annotator == "ann2":
            text = POSTS["s02"]
            for span in client.list_spans(project_id, examples["s02"].id):
                if span.start_offset == utf16_offset(text, text.index("北京")):
                    client.delete_span(project_id, examples["s02"].id, span.id)
                if span.start_offset == 0:
                    client.delete_span(project_id, examples["s02"].id, span.id)
                    client.create_span(project_id, examples["s02"].id, 0, utf16_offset(text, 3), labels["MISC"])
            text = POSTS["s01"]
            client.create_span(project_id, examples["s01"].id, utf16_offset(text, text.index("腾讯")),
                               utf16_offset(text, text.index("腾讯") + 2), labels["ORG"])
        for post_id in POSTS:
            if not (annotator == "ann3" and post_id == "s02"):
                client.update_example_state(project_id, examples[post_id].id)
        client.logout()

    pulled = run_cli("-w", workspace.root, "annotate", "pull")
    assert pulled.exit_code == 0, pulled.error or pulled.output
    outcomes = {(row["annotator"], row["post_id"], row["start"], row["end"], row["label"]): row["outcome"]
                for row in workspace.store.query("SELECT * FROM annotate_suggestions")}
    for span in expected["s01"] | expected["s02"]:
        assert outcomes[("ann1", "s01" if span in expected["s01"] else "s02", span.start, span.end, span.label)] == "kept"
    s02 = lambda piece, label: ("ann2", "s02", *_span("s02", piece, label).__dict__.values())  # noqa: E731
    assert outcomes[s02("𠀀野家", "ORG")] == "changed" and outcomes[s02("北京", "LOC")] == "deleted"
    assert outcomes[s02("广州", "LOC")] == "kept"
    assert all(outcome is None for (annotator, post_id, *_), outcome in outcomes.items()
               if (annotator, post_id) == ("ann3", "s02"))

    report = run_cli("-w", workspace.root, "agreement", "--json", "--bootstrap", "0")
    assert report.exit_code == 0, report.error or report.output
    counts = json.loads(report.stdout)["suggestions"]
    assert counts["ann1"] == {"posts": 3, "suggested": 5, "kept": 5, "changed": 0, "deleted": 0, "added": 0}
    assert counts["ann2"] == {"posts": 3, "suggested": 5, "kept": 3, "changed": 1, "deleted": 1, "added": 1}
    assert counts["ann3"] == {"posts": 2, "suggested": 2, "kept": 2, "changed": 0, "deleted": 0, "added": 0}
    table = run_cli("-w", workspace.root, "agreement", "--bootstrap", "0")
    assert "Model suggestions per annotator" in table.output
