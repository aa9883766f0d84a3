"""End to end against a real Doccano 1.8.4: users, push, three annotators through the API, pull, faults."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.examples import read_export_zip
from cmner_build.annotate.pull import pull_from_server
from cmner_build.annotate.push import push as push_posts
from cmner_build.annotate.users import read_passwords
from cmner_build.model import Span
from cmner_build.store import utc_now
from cmner_build.workspace import Workspace

from tests.doccano_support import (
    ADMIN, ADMIN_PASSWORD, add_ready_posts, annotate_as, configure_workspace, doccano,  # noqa: F401 (fixture)
)
from tests.helpers import run_cli

pytestmark = pytest.mark.doccano

# Emoji, a CJK Extension B character and a ZWJ sequence before the entities: UTF-16 != code points.
POSTS = {
    "p01": "😀今天去上海见了李华，腾讯的offer到手了！",
    "p02": "𠮷野家在广州开了新店👍北京也有",
    "p03": "👨‍👩‍👧周末全家去杭州西湖，遇到了姚明",
    "p04": "华为发布了Mate60，余承东说很满意",
    "p05": "今天天气不错。",
    "p06": "🎉🎉中超联赛开幕，北京国安主场作战",
}


def span(text: str, piece: str, label: str, occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    return Span(start, start + len(piece), label)


def spans(post_id: str, *pieces: tuple[str, str]) -> list[Span]:
    return sorted(span(POSTS[post_id], piece, label) for piece, label in pieces)


# Three annotators, different spans on the same posts (boundary, type and presence differences).
WORK = {
    "ann1": {
        "p01": spans("p01", ("上海", "LOC"), ("李华", "PER"), ("腾讯", "ORG")),
        "p02": spans("p02", ("𠮷野家", "ORG"), ("广州", "LOC"), ("北京", "LOC")),
        "p03": spans("p03", ("杭州", "LOC"), ("西湖", "LOC"), ("姚明", "PER")),
        "p04": spans("p04", ("华为", "ORG"), ("Mate60", "MISC"), ("余承东", "PER")),
        "p06": spans("p06", ("中超联赛", "MISC"), ("北京国安", "ORG")),
    },
    "ann2": {
        "p01": spans("p01", ("上海", "LOC"), ("李华", "PER")),
        "p02": spans("p02", ("𠮷野家", "MISC"), ("广州", "LOC")),
        "p03": spans("p03", ("杭州西湖", "LOC"), ("姚明", "PER")),
        "p04": spans("p04", ("华为", "ORG"), ("余承东", "PER")),
        "p06": spans("p06", ("中超", "MISC"), ("北京国安", "ORG")),
    },
    "ann3": {
        "p01": spans("p01", ("上海", "LOC"), ("腾讯", "ORG")),
        "p02": spans("p02", ("广州", "LOC")),
        "p03": spans("p03", ("姚明", "PER")),
        "p06": spans("p06", ("北京国安", "ORG")),
    },
}
# ann1 and ann2 confirm everything (p05 with no entity: "confirmed, nothing to mark"); ann3 confirms
# p01-p03 and p06, starts p04 without marking it done (below) and never opens p05.
CONFIRMS = {
    "ann1": set(POSTS),
    "ann2": set(POSTS),
    "ann3": {"p01", "p02", "p03", "p06"},
}


def stored_spans(workspace: Workspace, batch_id: str, annotator: str) -> dict[str, list[Span]]:
    rows = workspace.store.query(
        "SELECT post_id, start, end, label FROM annotation_spans WHERE batch_id = ? AND annotator = ? "
        "ORDER BY post_id, start, end", (batch_id, annotator))
    result: dict[str, list[Span]] = {}
    for row in rows:
        result.setdefault(row["post_id"], []).append(Span(row["start"], row["end"], row["label"]))
    return result


def confirmations(workspace: Workspace, batch_id: str) -> dict[tuple[str, str], int]:
    return {(row["annotator"], row["post_id"]): row["confirmed"] for row in workspace.store.query(
        "SELECT annotator, post_id, confirmed FROM annotations WHERE batch_id = ?", (batch_id,))}


def pass_pilot_gate(workspace: Workspace) -> None:
    """What `agreement --round pilot` writes when the pilot passes."""
    with workspace.store.transaction():
        workspace.store.execute("INSERT INTO agreement_runs (created_at, round, strict_f1, passed) "
                                "VALUES (?, 'pilot', 0.95, 1)", (utc_now(),))


def set_up(workspace: Workspace, url: str) -> dict[str, str]:
    configure_workspace(workspace.root, url)
    add_ready_posts(workspace.store, POSTS)
    result = run_cli("-w", workspace.root, "annotate", "users", "add", "ann1", "ann2", "ann3")
    assert result.exit_code == 0, result.output
    return read_passwords(workspace.root / "annotator-passwords.tsv")


def test_push_annotate_as_three_users_and_pull_exact_code_points(workspace: Workspace, doccano) -> None:
    passwords = set_up(workspace, doccano.url)
    password_file = workspace.root / "annotator-passwords.tsv"
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert sorted(passwords) == ["ann1", "ann2", "ann3"]
    assert all(password.encode() not in workspace.db_path.read_bytes() for password in passwords.values())

    refused = run_cli("-w", workspace.root, "annotate", "push")
    assert refused.exit_code == 2 and "agreement --round pilot" in refused.error and "--force" in refused.error
    pass_pilot_gate(workspace)
    pushed = run_cli("-w", workspace.root, "annotate", "push", "--batch-size", "10")
    assert pushed.exit_code == 0, pushed.output
    batch = workspace.store.query("SELECT * FROM batches")[0]
    assert (batch["batch_id"], batch["round"]) == ("batch-0001", "main")
    assert {row[0] for row in workspace.store.query("SELECT status FROM posts")} == {"annotating"}

    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as api:
        project = api.get_project(batch["project_id"])
        assert project["collaborative_annotation"] is False
        assert "CoNLL-2003" in project["guideline"] and "PER" in project["guideline"]
        assert {(label["text"], label["suffix_key"]) for label in api.list_label_types(batch["project_id"])} == {
            ("PER", "p"), ("LOC", "l"), ("ORG", "o"), ("MISC", "m")}
        assert sorted(m["username"] for m in api.list_members(batch["project_id"])) == ["admin", "ann1", "ann2", "ann3"]
        examples = api.list_examples(batch["project_id"])
        assert sorted((e["meta"]["post_id"], e["text"]) for e in examples) == sorted(POSTS.items())

    for annotator, work in WORK.items():
        annotate_as(doccano.url, annotator, passwords[annotator], batch["project_id"], work, CONFIRMS[annotator])
    # ann3 starts p04 but does not mark it done: work in progress, not confirmed.
    annotate_as(doccano.url, "ann3", passwords["ann3"], batch["project_id"], {"p04": spans("p04", ("华为", "ORG"))}, [])

    pulled = run_cli("-w", workspace.root, "annotate", "pull")
    assert pulled.exit_code == 0, pulled.output
    for annotator, work in WORK.items():
        expected = {post_id: post_spans for post_id, post_spans in work.items() if post_spans}
        if annotator == "ann3":
            expected["p04"] = spans("p04", ("华为", "ORG"))
        assert stored_spans(workspace, "batch-0001", annotator) == expected, annotator
    confirmed = confirmations(workspace, "batch-0001")
    assert confirmed[("ann1", "p05")] == 1 and ("ann1", "p05") not in {
        (row["annotator"], row["post_id"]) for row in workspace.store.query("SELECT * FROM annotation_spans")}
    assert confirmed[("ann3", "p05")] == 0 and confirmed[("ann3", "p04")] == 0
    assert len(confirmed) == 3 * len(POSTS)
    statuses = dict(workspace.store.query("SELECT post_id, status FROM posts"))
    assert statuses == {"p01": "annotated", "p02": "annotated", "p03": "annotated", "p04": "annotating",
                        "p05": "annotating", "p06": "annotated"}

    status = run_cli("-w", workspace.root, "annotate", "status", "--json")
    import json
    report = json.loads(status.stdout)
    assert [(a["username"], a["confirmed"]) for a in report[0]["annotators"]] == [("ann1", 6), ("ann2", 6), ("ann3", 4)]
    assert (report[0]["posts"], report[0]["pushed"], report[0]["annotated"]) == (6, 6, 4)

    # Pushing again changes nothing on the server.
    again = run_cli("-w", workspace.root, "annotate", "push", "--batch-size", "10")
    assert again.exit_code == 0 and "nothing to push" in again.output
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as api:
        assert len(api.list_projects()) == 1
        assert len(api.list_examples(batch["project_id"])) == len(POSTS)


def held_posts(url: str, project_id: int) -> list[str]:
    with DoccanoAPI.login(url, ADMIN, ADMIN_PASSWORD) as api:
        files = read_export_zip(api.export_zip(project_id))
    return sorted(example.post_id for example in files[ADMIN])


def test_server_stopped_mid_push_then_restarted_holds_each_post_once(workspace: Workspace, doccano) -> None:
    set_up(workspace, doccano.url)
    many = {f"q{i:02d}": f"第{i}条：张伟在北京😀" for i in range(10)}
    add_ready_posts(workspace.store, many)
    pass_pilot_gate(workspace)
    stopped = []

    def stop_after_first_chunk(batch_id: str, done: int, total: int) -> None:
        if not stopped:
            stopped.append((batch_id, done))
            doccano.stop()

    from cmner_build.annotate.doccano.api import DoccanoUnreachable

    api = DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD)
    with pytest.raises(DoccanoUnreachable, match="cannot reach Doccano"):
        push_posts(api, workspace.store, pool=["ann1", "ann2", "ann3"], guideline="g", seed=1, batch_size=8,
                   upload_chunk=3, progress=stop_after_first_chunk)
    assert stopped == [("batch-0001", 3)]
    # The plan is stored, nothing is recorded as pushed, no post moved on.
    assert workspace.store.scalar("SELECT COUNT(*) FROM batch_posts WHERE example_id IS NOT NULL") == 0
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 2
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'ready'") == 16

    doccano.restart()
    result = run_cli("-w", workspace.root, "annotate", "push", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    batches = workspace.store.query("SELECT batch_id, project_id FROM batches ORDER BY batch_id")
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        assert sorted(p["name"] for p in admin.list_projects()) == sorted(
            row["project_name"] for row in workspace.store.query("SELECT project_name FROM batches"))
    for batch in batches:
        expected = sorted(row[0] for row in workspace.store.query(
            "SELECT post_id FROM batch_posts WHERE batch_id = ?", (batch["batch_id"],)))
        assert held_posts(doccano.url, batch["project_id"]) == expected
    assert workspace.store.scalar("SELECT COUNT(*) FROM batch_posts WHERE example_id IS NULL") == 0
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'annotating'") == 16

    # A duplicate left by a retried import is removed by the next push.
    project_id = batches[0]["project_id"]
    text_of = dict(workspace.store.query("SELECT post_id, text FROM batch_posts WHERE batch_id = 'batch-0001'"))
    post_id = sorted(text_of)[0]
    from cmner_build.annotate.doccano.examples import example_record

    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        admin.upload_jsonl(project_id, [example_record(post_id, text_of[post_id], batch_id="batch-0001")])
    assert held_posts(doccano.url, project_id).count(post_id) == 2
    workspace.store.execute("UPDATE batch_posts SET example_id = NULL WHERE batch_id = 'batch-0001'")
    result = run_cli("-w", workspace.root, "annotate", "push", "--batch-size", "8")
    assert result.exit_code == 0 and "1 duplicates removed" in " ".join(result.output.split()), result.output
    assert held_posts(doccano.url, project_id).count(post_id) == 1


def snapshot(workspace: Workspace) -> list:
    tables = ("posts", "batches", "batch_posts", "batch_annotators", "annotations", "annotation_spans")
    return [[tuple(row) for row in workspace.store.query(f"SELECT * FROM {table} ORDER BY 1, 2")] for table in tables]


def test_clear_messages_and_unchanged_store_on_faults(workspace: Workspace, doccano, monkeypatch) -> None:
    passwords = set_up(workspace, doccano.url)
    pass_pilot_gate(workspace)
    assert run_cli("-w", workspace.root, "annotate", "push").exit_code == 0
    project_id = workspace.store.scalar("SELECT project_id FROM batches")
    annotate_as(doccano.url, "ann1", passwords["ann1"], project_id, WORK["ann1"], CONFIRMS["ann1"])
    assert run_cli("-w", workspace.root, "annotate", "pull").exit_code == 0
    before = snapshot(workspace)

    # Offsets outside the text: the server accepts anything, the pull refuses it.
    with DoccanoAPI.login(doccano.url, "ann2", passwords["ann2"]) as ann2:
        example = next(e for e in ann2.list_examples(project_id) if e["meta"]["post_id"] == "p05")
        label_id = ann2.list_label_types(project_id)[0]["id"]
        ann2.create_span(project_id, example["id"], 3, 40, label_id)
    bad = run_cli("-w", workspace.root, "annotate", "pull")
    assert bad.exit_code == 2
    assert "batch batch-0001, post p05, annotator ann2" in bad.error and "outside the text" in bad.error
    assert snapshot(workspace) == before

    # Wrong password.
    monkeypatch.setenv("CMNER_TEST_DOCCANO_PASSWORD", "not-the-password")
    wrong = run_cli("-w", workspace.root, "annotate", "pull")
    assert wrong.exit_code == 2 and "rejected the login" in wrong.error and "'admin'" in wrong.error
    monkeypatch.setenv("CMNER_TEST_DOCCANO_PASSWORD", ADMIN_PASSWORD)

    # Missing project.
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
        admin.delete_project(project_id)
    missing = run_cli("-w", workspace.root, "annotate", "pull")
    assert missing.exit_code == 2
    assert f"batch batch-0001: its Doccano project {project_id}" in missing.error and "missing" in missing.error
    assert snapshot(workspace) == before

    # Server down.
    doccano.stop()
    down = run_cli("-w", workspace.root, "annotate", "pull")
    assert down.exit_code == 2 and f"cannot reach Doccano at {doccano.url}" in down.error
    down_status = run_cli("-w", workspace.root, "annotate", "status", "--live")
    assert down_status.exit_code == 2 and "doccano serve" in down_status.error
    assert snapshot(workspace) == before
