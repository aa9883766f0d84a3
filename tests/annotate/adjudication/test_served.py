"""Adjudication against a real Doccano 1.8.4: `adjudicate --doccano`, the adjudicator at work, `adjudicate pull`.

The adjudicator acts through doccano-client (the official client, not our adapter), logged in as
themselves: what they see is what Doccano shows them, and what they do goes through Doccano's own API.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.users import read_passwords
from cmner_build.model import Span
from cmner_build.workspace import Workspace

from tests.agreement_helpers import add_batch
from tests.doccano_support import ADMIN, ADMIN_PASSWORD, configure_workspace, doccano, utf16_offset  # noqa: F401 (fixture)
from tests.helpers import run_cli

pytestmark = pytest.mark.doccano

JUDGE = "judge"
TEXTS = {
    # an emoji and a CJK Extension B character before the entities: UTF-16 offsets are 1-3 higher
    "s-emoji": "😀今天在𠮷野家吃饭，见到了李华",
    "s-boundary": "我们去了上海迪士尼乐园玩",
    "s-drop": "鸟巢今晚有比赛",
    "s-clash": "李华说腾讯很好",
    "s-agree": "张三在广州",
}


def piece(post_id: str, text: str, label: str) -> Span:
    start = TEXTS[post_id].index(text)
    return Span(start, start + len(text), label)


def triples(*spans: Span) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, span.label) for span in spans]


JIYE, LIHUA = piece("s-emoji", "𠮷野家", "ORG"), piece("s-emoji", "李华", "PER")
SHANGHAI_DISNEY, DISNEYLAND = piece("s-boundary", "上海迪士尼", "LOC"), piece("s-boundary", "上海迪士尼乐园", "LOC")
VERSIONS = {
    # type conflict on 𠮷野家 (ORG / MISC / nothing: no suggestion); 李华 accepted by all three
    "s-emoji": {"ann1": triples(JIYE, LIHUA), "ann2": triples(Span(JIYE.start, JIYE.end, "MISC"), LIHUA),
                "ann3": triples(LIHUA)},
    # boundary conflict; the character majority suggests 上海迪士尼
    "s-boundary": {"ann1": triples(SHANGHAI_DISNEY), "ann2": triples(DISNEYLAND), "ann3": []},
    # type conflict LOC / ORG / nothing: the adjudicator decides there is no entity -> dropped
    "s-drop": {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "ORG")], "ann3": []},
    # presence conflict on 腾讯; the adjudicator's comments give two different codes -> left open
    "s-clash": {"ann1": [(0, 2, "PER"), (3, 5, "ORG")], "ann2": [(0, 2, "PER")], "ann3": [(0, 2, "PER")]},
    "s-agree": {"ann1": [(0, 2, "PER"), (3, 5, "LOC")], "ann2": [(0, 2, "PER"), (3, 5, "LOC")], "ann3": [(0, 2, "PER")]},
}
OPEN = ["s-emoji", "s-boundary", "s-drop", "s-clash"]


def as_utf16(post_id: str, *spans: Span) -> set[tuple[int, int, str]]:
    text = TEXTS[post_id]
    return {(utf16_offset(text, s.start), utf16_offset(text, s.end), s.label) for s in spans}


def adjudicate(root, *args: str) -> dict:
    result = run_cli("-w", root, "adjudicate", "--doccano", "--adjudicator", JUDGE, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["doccano"]


def test_adjudication_project_round_trip_on_a_served_doccano(workspace: Workspace, doccano, tmp_path) -> None:
    from doccano_client import DoccanoClient

    store, root = workspace.store, workspace.root
    configure_workspace(root, doccano.url)
    add_batch(store, "batch-0001", "main", ["ann1", "ann2", "ann3"],
              {post_id: (TEXTS[post_id], versions) for post_id, versions in VERSIONS.items()})

    pushed = adjudicate(root)
    assert (pushed["batch_id"], pushed["posts"], pushed["accounts_created"]) == ("adjudication-0001", 4, [JUDGE])
    project_id = pushed["project_id"]
    password_file = root / "annotator-passwords.tsv"
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    password = read_passwords(password_file)[JUDGE]
    assert store.scalar("SELECT COUNT(*) FROM annotators WHERE username = ?", (JUDGE,)) == 0  # not in the pool
    assert store.scalar("SELECT status FROM posts WHERE post_id = 's-agree'") == "gold"  # settled by the majority

    # What the adjudicator sees, logged in as themselves: the pre-filled spans are theirs, in UTF-16.
    judge = DoccanoClient(doccano.url)
    judge.login(username=JUDGE, password=password)
    examples = {example.meta["post_id"]: example for example in judge.list_examples(project_id)}
    assert sorted(examples) == sorted(OPEN)
    labels = {label.text: label.id for label in judge.list_label_types(project_id, "span")}
    names = {label_id: text for text, label_id in labels.items()}

    def seen(post_id: str) -> set[tuple[int, int, str]]:
        return {(s.start_offset, s.end_offset, names[s.label]) for s in judge.list_spans(project_id, examples[post_id].id)}

    assert seen("s-emoji") == as_utf16("s-emoji", LIHUA) == {(15, 17, "PER")}
    assert seen("s-boundary") == as_utf16("s-boundary", SHANGHAI_DISNEY)
    assert seen("s-drop") == set() and seen("s-clash") == {(0, 2, "PER")}
    meta = examples["s-emoji"].meta
    assert meta["conflict_1"] == "type: 𠮷野家/MISC [4,7) ← B | 𠮷野家/ORG [4,7) ← A | nothing ← C"
    assert (meta["version_A"], meta["version_C"]) == ("𠮷野家/ORG [4,7), 李华/PER [13,15)", "李华/PER [13,15)")
    assert meta["round"] == "adjudication" and "ann1" not in json.dumps(meta, ensure_ascii=False)
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        project = admin.get_project(project_id)
        assert project["collaborative_annotation"] is False and "reason: <code>" in project["guideline"]
        assert {m["username"]: m["rolename"] for m in admin.list_members(project_id)} == {
            ADMIN: "project_admin", JUDGE: "project_admin"}

    # Pushing again, and after a run that died before recording anything, creates nothing twice.
    again = adjudicate(root)
    assert (again["project_id"], sorted(again["already_out"]), again["resumed"]) == (None, sorted(OPEN), [])
    with store.transaction():
        store.execute("UPDATE batches SET project_id = NULL WHERE batch_id = 'adjudication-0001'")
        store.execute("UPDATE batch_posts SET example_id = NULL WHERE batch_id = 'adjudication-0001'")
    resumed = adjudicate(root)
    assert (resumed["project_id"], resumed["resumed"], resumed["accounts_created"]) == (None, ["adjudication-0001"], [])
    assert store.scalar("SELECT project_id FROM batches WHERE batch_id = 'adjudication-0001'") == project_id
    assert store.scalar("SELECT COUNT(example_id) FROM batch_posts WHERE batch_id = 'adjudication-0001'") == 4
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        assert [p["id"] for p in admin.list_projects()] == [project_id]
        assert len(admin.list_examples(project_id)) == 4
    assert seen("s-emoji") == {(15, 17, "PER")}  # the adjudicator's pre-filled spans are untouched

    # The adjudicator works: spans, reason comments, mark as done.
    def work(post_id: str, add: tuple[Span, ...] = (), remove: tuple[Span, ...] = (), comments: tuple[str, ...] = ()):
        example = examples[post_id]
        unwanted = as_utf16(post_id, *remove)
        for span in judge.list_spans(project_id, example.id):
            if (span.start_offset, span.end_offset, names[span.label]) in unwanted:
                judge.delete_span(project_id, example.id, span.id)
        for start, end, label in as_utf16(post_id, *add):
            judge.create_span(project_id, example.id, start, end, labels[label])
        for comment in comments:
            judge.create_comment(project_id, example.id, comment)
        judge.update_example_state(project_id, example.id)

    work("s-emoji", add=(JIYE,), comments=("reason: type_convention",))
    work("s-boundary", add=(DISNEYLAND,), remove=(SHANGHAI_DISNEY,),
         comments=("Reason 1：boundary_convention 乐园 is part of the name",))
    work("s-drop", comments=("reason: ambiguous",))
    work("s-clash", add=(Span(3, 5, "ORG"),), comments=("reason: other", "reason: annotator_slip"))
    judge.logout()

    pulled = run_cli("-w", root, "adjudicate", "pull", "--json")
    assert pulled.exit_code == 0, pulled.output
    report = json.loads(pulled.stdout)
    assert report["settled"] == {"s-emoji": "gold", "s-boundary": "gold", "s-drop": "dropped"}
    assert len(report["problems"]) == 1 and "s-clash" in report["problems"][0]
    assert "two reason codes" in report["problems"][0] and "annotator_slip, other" in report["problems"][0]

    gold = store.gold_spans()
    assert gold["s-emoji"] == sorted([JIYE, LIHUA])  # code points, whatever the emoji and 𠮷 did in Doccano
    assert [span.text_of(TEXTS["s-emoji"]) for span in gold["s-emoji"]] == ["𠮷野家", "李华"]
    assert gold["s-boundary"] == [DISNEYLAND] and "s-drop" not in gold and "s-clash" not in gold
    statuses = {row["post_id"]: (row["status"], row["drop_reason"]) for row in store.query(
        "SELECT post_id, status, drop_reason FROM posts")}
    assert statuses == {"s-emoji": ("gold", None), "s-boundary": ("gold", None), "s-drop": ("dropped", "no_entities"),
                        "s-clash": ("annotating", None), "s-agree": ("gold", None)}
    decisions = {(row["post_id"], row["reason"], row["note"], row["decided_via"]) for row in store.query(
        "SELECT post_id, reason, note, decided_via FROM adjudication_clusters WHERE reason IS NOT NULL")}
    assert decisions == {("s-emoji", "type_convention", None, "doccano"),
                         ("s-boundary", "boundary_convention", "乐园 is part of the name", "doccano"),
                         ("s-drop", "ambiguous", None, "doccano")}

    # `annotate pull` never takes the adjudication project for annotators' work.
    assert run_cli("-w", root, "annotate", "pull").exit_code == 0
    refused = run_cli("-w", root, "annotate", "pull", "--batch", "adjudication-0001")
    assert refused.exit_code == 2 and "adjudicate pull" in refused.error
    archive = tmp_path / "adjudication.zip"
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        archive.write_bytes(admin.export_zip(project_id, confirmed_only=True))
    # The shape the reason parser reads: the adjudicator's comment texts, sorted (not in the order written).
    with zipfile.ZipFile(archive) as export:
        lines = {line["post_id"]: line for line in map(json.loads, export.read(f"{JUDGE}.jsonl").splitlines())}
    assert lines["s-clash"]["Comments"] == ["reason: annotator_slip", "reason: other"]
    assert lines["s-emoji"]["label"] == sorted(list(t) for t in as_utf16("s-emoji", JIYE, LIHUA))
    from_zip = run_cli("-w", root, "annotate", "pull", "--from-export", archive)
    assert from_zip.exit_code == 2 and "adjudicate pull --from-export" in from_zip.error
    assert store.scalar("SELECT COUNT(*) FROM annotations WHERE batch_id = 'adjudication-0001'") == 0
    assert store.scalar("SELECT COUNT(*) FROM annotations") == 15  # the three versions of five posts, as before
