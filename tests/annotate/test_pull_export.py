"""`annotate pull --from-export`: hand-over zips, offline, including the bundled demo annotations."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cmner_build.annotate.pull import pull_from_export, text_batches
from cmner_build.errors import CmnerError
from cmner_build.commands.demo import sample_dir
from cmner_build.model import Span
from cmner_build.workspace import Workspace

from tests.doccano_support import add_ready_posts, utf16_offset
from tests.helpers import run_cli

ANNOTATIONS = sample_dir() / "annotations"
TEXTS = {"e1": "😀今天去上海见了李华", "e2": "𠮷野家在广州开了新店", "e3": "今天天气不错。"}


def doccano_line(example_id: int, post_id: str, spans: list[Span], **extra) -> str:
    """A line as Doccano 1.8.4 exports it: UTF-16 offsets, meta flattened to the top level."""
    text = TEXTS[post_id]
    label = [[utf16_offset(text, s.start), utf16_offset(text, s.end), s.label] for s in spans]
    return json.dumps({"id": example_id, "text": text, "post_id": post_id, "label": label, "Comments": [], **extra},
                      ensure_ascii=False)


def write_zip(path: Path, files: dict[str, list[str]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, lines in files.items():
            archive.writestr(name, "\n".join(lines) + ("\n" if lines else ""))
    return path


def loc(post_id: str, piece: str, label: str) -> Span:
    start = TEXTS[post_id].index(piece)
    return Span(start, start + len(piece), label)


WORK = {
    "u1": {"e1": [loc("e1", "上海", "LOC"), loc("e1", "李华", "PER")], "e2": [loc("e2", "𠮷野家", "ORG"), loc("e2", "广州", "LOC")], "e3": []},
    "u2": {"e1": [loc("e1", "上海", "LOC")], "e2": [loc("e2", "广州", "LOC")]},
}


def stored(workspace: Workspace) -> dict[str, dict[str, list[Span]]]:
    result: dict[str, dict[str, list[Span]]] = {}
    for row in workspace.store.query("SELECT annotator, post_id FROM annotations WHERE confirmed = 1"):
        result.setdefault(row["annotator"], {})[row["post_id"]] = []
    for row in workspace.store.query("SELECT * FROM annotation_spans ORDER BY annotator, post_id, start"):
        result[row["annotator"]][row["post_id"]].append(Span(row["start"], row["end"], row["label"]))
    return result


def hand_over_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "handed-over.zip", {
        "admin.jsonl": [doccano_line(1, "e1", []), doccano_line(2, "e2", []), doccano_line(3, "e3", [])],
        **{f"{user}.jsonl": [doccano_line(i, post_id, spans, batch_id="b7")
                             for i, (post_id, spans) in enumerate(work.items(), start=1)] for user, work in WORK.items()},
    })


def test_new_batch_from_a_zip_converts_utf16_and_records_confirmed(workspace: Workspace, tmp_path: Path) -> None:
    add_ready_posts(workspace.store, TEXTS)
    result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", hand_over_zip(tmp_path),
                     "--batch", "b7", "--round", "main")
    assert result.exit_code == 0, result.output
    assert stored(workspace) == WORK
    assert workspace.store.query("SELECT batch_id, round, project_id, project_name FROM batches")[0][:] == (
        "b7", "main", None, "handed-over")
    assert sorted(r[0] for r in workspace.store.query("SELECT annotator FROM batch_annotators")) == ["u1", "u2"]
    # e3 is only in u1's file: u2 has no row for it (not seen), so it is not complete.
    assert dict(workspace.store.query("SELECT post_id, status FROM posts")) == {
        "e1": "annotated", "e2": "annotated", "e3": "annotating"}

    # Pulling the same zip again changes nothing.
    before = workspace.store.query("SELECT * FROM annotation_spans ORDER BY 1, 2, 3, 4")
    assert run_cli("-w", workspace.root, "annotate", "pull", "--from-export", tmp_path / "handed-over.zip").exit_code == 0
    assert workspace.store.query("SELECT * FROM annotation_spans ORDER BY 1, 2, 3, 4") == before
    # Offline batches were annotated elsewhere: push never re-sends them.
    from cmner_build.annotate.push import unfinished_batches

    assert unfinished_batches(workspace.store) == []


def test_bad_span_names_batch_post_annotator_and_stores_nothing(workspace: Workspace, tmp_path: Path) -> None:
    add_ready_posts(workspace.store, TEXTS)
    bad = write_zip(tmp_path / "bad.zip", {
        "u1.jsonl": [doccano_line(1, "e1", [loc("e1", "上海", "LOC")])],
        "u2.jsonl": [json.dumps({"id": 2, "text": TEXTS["e2"], "post_id": "e2", "label": [[9, 30, "LOC"]]},
                                ensure_ascii=False)],
    })
    result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", bad, "--batch", "b1")
    assert result.exit_code == 2
    assert "batch b1, post e2, annotator u2" in result.error and "outside the text" in result.error
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 0
    assert workspace.store.scalar("SELECT COUNT(*) FROM annotations") == 0
    assert {row[0] for row in workspace.store.query("SELECT status FROM posts")} == {"ready"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([json.dumps({"id": 1, "text": "别的文字", "post_id": "e1", "label": []})], "differs from the post's current text"),
        ([json.dumps({"id": 1, "text": "x", "post_id": "nope", "label": []})], "post nope is not in this workspace"),
        ([json.dumps({"id": 1, "text": TEXTS["e1"], "post_id": "e1", "label": [[0, 2, "PERSON"]]})], "unknown label"),
        ([json.dumps({"id": 1, "text": TEXTS["e1"], "post_id": "e1", "label": [[3, 6, "LOC"], [4, 8, "PER"]]})], "overlaps"),
        (["{not json"], "u1.jsonl:1: not JSON"),
    ],
)
def test_refused_zips_leave_the_store_unchanged(workspace: Workspace, tmp_path: Path, lines: list[str], message: str) -> None:
    add_ready_posts(workspace.store, TEXTS)
    path = write_zip(tmp_path / "x.zip", {"u1.jsonl": lines})
    result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", path, "--batch", "b1")
    assert result.exit_code == 2 and message in result.error, result.error
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 0


def test_existing_batch_is_found_by_its_posts_and_strangers_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    add_ready_posts(workspace.store, TEXTS)
    pull_from_export(workspace.store, hand_over_zip(tmp_path), batch_id="b7")
    stranger = write_zip(tmp_path / "s.zip", {"u9.jsonl": [doccano_line(5, "e1", [])]})
    result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", stranger)
    assert result.exit_code == 2 and "u9 not annotators of batch b7" in result.error
    nowhere = write_zip(tmp_path / "n.zip", {"u1.jsonl": [doccano_line(5, "e1", [])]})
    workspace.store.execute("DELETE FROM batches")
    result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", nowhere)
    assert result.exit_code == 2 and "--batch ID --round pilot|main" in result.error


def test_adjudication_and_image_batches_are_never_pulled_as_annotations(workspace: Workspace, tmp_path: Path) -> None:
    add_ready_posts(workspace.store, TEXTS)
    pull_from_export(workspace.store, hand_over_zip(tmp_path), batch_id="b7")
    before = (workspace.store.query("SELECT * FROM annotations ORDER BY 1, 2, 3"),
              workspace.store.query("SELECT * FROM annotation_spans ORDER BY 1, 2, 3, 4"))
    with workspace.store.transaction():  # what `adjudicate --doccano` and `annotate images` record
        for batch_id, round_ in (("adjudication-0001", "adjudication"), ("images-0001", "images")):
            workspace.store.execute("INSERT INTO batches (batch_id, round, project_id, project_name, created_at, meta) "
                                    "VALUES (?, ?, 7, ?, '2026-01-01', '{\"adjudicator\": \"u1\"}')",
                                    (batch_id, round_, batch_id))
        workspace.store.execute("INSERT INTO batch_posts (batch_id, post_id, text, example_id) "
                                "VALUES ('adjudication-0001', 'e1', ?, 1)", (TEXTS["e1"],))
    # u1 adjudicates a post they also annotated: their decisions must not replace their own version.
    decisions = write_zip(tmp_path / "adjudication.zip", {"u1.jsonl": [
        doccano_line(1, "e1", [loc("e1", "李华", "PER")], batch_id="adjudication-0001", round="adjudication",
                     Comments=["reason: ambiguous"])]})
    refused = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", decisions)
    assert refused.exit_code == 2 and "adjudicate pull --from-export" in refused.error
    for batch_id, words in (("adjudication-0001", "adjudicate pull"), ("images-0001", "images round")):
        named = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", hand_over_zip(tmp_path),
                        "--batch", batch_id)
        assert named.exit_code == 2 and words in named.error, named.error
        with pytest.raises(CmnerError, match=words):
            text_batches(workspace.store, [batch_id])
    assert text_batches(workspace.store) == []  # pushed text batches only; b7 came from a zip, the others are not text
    assert (workspace.store.query("SELECT * FROM annotations ORDER BY 1, 2, 3"),
            workspace.store.query("SELECT * FROM annotation_spans ORDER BY 1, 2, 3, 4")) == before


def demo_workspace(workspace: Workspace) -> Workspace:
    """The demo sample as the clean stage leaves it: every post 'ready'."""
    assert run_cli("-w", workspace.root, "import", sample_dir() / "sample.txt", "--format", "cmner").exit_code == 0
    workspace.store.execute("UPDATE posts SET status = 'ready', split = NULL")
    return workspace


def test_bundled_demo_zips_hold_exactly_the_manifest(workspace: Workspace) -> None:
    demo_workspace(workspace)
    manifest = json.loads((ANNOTATIONS / "manifest.json").read_text(encoding="utf-8"))
    for part in ("pilot", "main"):
        entry = manifest["files"][part]
        result = run_cli("-w", workspace.root, "annotate", "pull", "--from-export", ANNOTATIONS / entry["zip"],
                         "--batch", entry["batch_id"], "--round", entry["round"])
        assert result.exit_code == 0, result.output
    got = stored(workspace)
    expected: dict[str, dict[str, list[Span]]] = {}
    for post_id, post in manifest["posts"].items():
        for annotator, spans in post["annotators"].items():
            expected.setdefault(annotator, {})[post_id] = [Span(*span) for span in spans]
    assert got == expected
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'annotated'") == 60
    rounds = dict(workspace.store.query("SELECT batch_id, round FROM batches"))
    assert rounds == {"pilot": "pilot", "batch-0001": "main"}
    assert workspace.store.scalar("SELECT COUNT(*) FROM batch_posts WHERE batch_id = 'pilot'") == 20
    assert manifest["mean_pairwise_strict_f1"]["pilot"] >= 0.90
    kinds = {kind for post in manifest["posts"].values() for kind in post["conflicts"]}
    assert {"boundary", "type", "presence", "all_empty", "three_way", "wrong_majority"} <= kinds


def test_demo_zips_are_what_the_script_makes(tmp_path: Path) -> None:
    """The committed zips are reproducible from scripts/make_demo_annotations.py."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_demo_annotations.py"
    spec = importlib.util.spec_from_file_location("make_demo_annotations", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.OUT = tmp_path
    module.main()
    for name in ("pilot.zip", "batch-0001.zip", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (ANNOTATIONS / name).read_bytes(), name
