"""The gold audit's review through a real Doccano 1.8.4: `audit labels --doccano`, the reviewer at work,
`adjudicate pull`: exactly the accepted fixes change the gold, each with its reason."""

from __future__ import annotations

import json

import pytest

from cmner_build.importer import import_release
from cmner_build.model import Span
from cmner_build.workspace import Workspace

from cmner_build.annotate.adjudication.audit_review import review_post

from tests.doccano_support import configure_workspace, doccano, utf16_offset  # noqa: F401 (fixture)
from tests.helpers import run_cli

JUDGE = "judge"


def release(tmp_path):
    """Eight consistent posts and three planted errors: a type flip, a boundary cut, a missed entity.
    An emoji before the entities makes Doccano's UTF-16 offsets differ from code points."""
    posts = {}
    for i in range(8):
        posts[f"ok{i}"] = (f"😀曼联在主场迎战利物浦，北京大学第{i}次", [("曼联", "ORG"), ("利物浦", "ORG"), ("北京大学", "ORG")])
    posts["flip"] = ("😀曼联在主场迎战利物浦，补赛", [("曼联", "PER"), ("利物浦", "ORG")])
    posts["cut"] = ("😀北京大学的学生，曼联球迷", [("北京", "LOC"), ("曼联", "ORG")])
    posts["miss"] = ("😀曼联在主场迎战利物浦，再赛", [("曼联", "ORG")])
    blocks = []
    for post_id, (text, marks) in posts.items():
        tags = ["O"] * len(text)
        for surface, label in marks:
            start = text.index(surface)
            tags[start] = f"B-{label}"
            for k in range(start + 1, start + len(surface)):
                tags[k] = f"I-{label}"
        blocks.append("\n".join([f"WID:{post_id}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]))
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path, {post_id: text for post_id, (text, _) in posts.items()}


def test_review_post_accepts_untouched_gold_and_makes_one_cluster_per_issue():
    class Issue:
        def __init__(self, start, end, gold, suggestion):
            self.post_id, self.start, self.end, self.gold, self.suggestion = "p", start, end, gold, suggestion

    gold = [Span(0, 2, "PER"), Span(4, 6, "LOC")]
    merged = review_post("p", "张三在北京和上海", gold, [Issue(0, 2, [Span(0, 2, "PER")], [Span(0, 2, "ORG")]),
                                                      Issue(6, 8, [], [Span(6, 8, "LOC")])])
    assert merged.accepted == [Span(4, 6, "LOC")]
    assert [(c.number, c.conflict_type, c.suggestion) for c in merged.clusters] == [
        (1, "type", [Span(0, 2, "ORG")]), (2, "presence", [Span(6, 8, "LOC")])]
    assert merged.versions["audit"] == [Span(0, 2, "ORG"), Span(4, 6, "LOC"), Span(6, 8, "LOC")]


@pytest.mark.doccano
def test_review_round_trip_changes_exactly_the_accepted_spans(workspace: Workspace, doccano, tmp_path) -> None:
    from doccano_client import DoccanoClient

    from cmner_build.annotate.users import read_passwords

    store, root = workspace.store, workspace.root
    configure_workspace(root, doccano.url)
    path, texts = release(tmp_path)
    import_release(store, [path], "cmner")
    before = store.gold_spans()

    result = run_cli("-w", root, "audit", "labels", "--signals", "consistency", "--doccano", "--adjudicator", JUDGE,
                     "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    sent = summary["doccano"]
    assert sent["posts"] == 3 and sent["accounts_created"] == [JUDGE]
    project_id = sent["project_id"]

    judge = DoccanoClient(doccano.url)
    judge.login(username=JUDGE, password=read_passwords(root / "annotator-passwords.tsv")[JUDGE])
    examples = {example.meta["post_id"]: example for example in judge.list_examples(project_id)}
    assert sorted(examples) == ["cut", "flip", "miss"]
    labels = {label.text: label.id for label in judge.list_label_types(project_id, "span")}
    names = {label_id: text for text, label_id in labels.items()}

    def seen(post_id):
        return {(s.start_offset, s.end_offset, names[s.label]) for s in judge.list_spans(project_id, examples[post_id].id)}

    def utf16(post_id, start, end, label):
        return (utf16_offset(texts[post_id], start), utf16_offset(texts[post_id], end), label)

    # The suggestions are pre-filled, in UTF-16 (the emoji shifts them by one): 曼联 ORG in "flip".
    assert seen("flip") == {utf16("flip", 1, 3, "ORG"), utf16("flip", 8, 11, "ORG")} == {(2, 4, "ORG"), (9, 12, "ORG")}
    assert utf16("miss", 8, 11, "ORG") in seen("miss")
    assert examples["flip"].meta["version_gold"].startswith("曼联/PER")

    # accept the type fix; reject the "missed" suggestion (delete it: the gold stays); leave "cut" undone
    judge.create_comment(project_id, examples["flip"].id, "reason: annotator_slip")
    judge.update_example_state(project_id, examples["flip"].id)
    for span in judge.list_spans(project_id, examples["miss"].id):
        if (span.start_offset, span.end_offset) == (9, 12):
            judge.delete_span(project_id, examples["miss"].id, span.id)
    judge.create_comment(project_id, examples["miss"].id, "reason: other the gold was right")
    judge.update_example_state(project_id, examples["miss"].id)
    judge.logout()

    pulled = run_cli("-w", root, "adjudicate", "pull", "--json")
    assert pulled.exit_code == 0, pulled.output
    assert json.loads(pulled.stdout)["settled"] == {"flip": "gold", "miss": "gold"}
    after = store.gold_spans()
    changed = {post_id for post_id in set(before) | set(after) if before.get(post_id) != after.get(post_id)}
    assert changed == {"flip"}
    assert after["flip"] == [Span(1, 3, "ORG"), Span(8, 11, "ORG")]
    reasons = {(row["post_id"], row["reason"], row["note"]) for row in store.query(
        "SELECT post_id, reason, note FROM adjudication_clusters WHERE reason IS NOT NULL")}
    assert reasons == {("flip", "annotator_slip", None), ("miss", "other", "the gold was right")}
    assert store.scalar("SELECT state FROM adjudication_posts WHERE post_id = 'cut'") == "open"
    replaced = [json.loads(row["data"])["replaced_gold"] for row in store.query(
        "SELECT data FROM events WHERE stage = 'adjudicate' AND kind = 'settled' AND post_id = 'flip'")]
    assert replaced and {tuple(s[k] for k in ("start", "end", "label")) for s in replaced[0]} == {(1, 3, "PER"), (8, 11, "ORG")}
    # re-running the audit's review leaves the waiting post where it is
    again = run_cli("-w", root, "audit", "labels", "--signals", "consistency", "--doccano", "--adjudicator", JUDGE, "--json")
    assert again.exit_code == 0, again.output
    assert "cut" in json.loads(again.stdout)["doccano"]["already_out"]
    # the review's "versions" (gold / audit) are no annotators: nothing for --vs-gold to score
    vs_gold = run_cli("-w", root, "agreement", "--vs-gold", "--json")
    assert vs_gold.exit_code == 2 and "no adjudicated posts" in vs_gold.error
