"""`predict` on a workspace: gold posts give the run's own scores exactly; ready posts and a file of posts
are labelled with spans in code points (astral characters included) and stored as the run's suggestions."""

from __future__ import annotations

import json

import pytest

from cmner_build.baselines.experiment import BaselineOptions, run_baseline
from cmner_build.export import export_corpus
from cmner_build.importer import import_release
from cmner_build.store import Store
from cmner_build.workspace import Workspace, init_workspace

from tests.agreement_helpers import add_posts
from tests.baselines_helpers import make_posts, write_export
from tests.helpers import run_cli

ASTRAL = {"R1": "😀张三今天在北京参加了华为的活动", "R2": "𠀀我和李小明去上海看春节", "R3": "今天什么也没做。"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    workspace, _ = init_workspace(root / "ws")
    release = write_export(root / "release", {"train": make_posts(24, 21), "dev": make_posts(8, 22),
                                              "test": make_posts(10, 23)})
    import_release(workspace.store, [release / f"{split}.txt" for split in ("train", "dev", "test")], "cmner")
    export_corpus(workspace.store, workspace.exports_dir / "cmner")  # the release's splits are kept
    add_posts(workspace.store, ASTRAL, status="ready")
    outcome = run_baseline(
        BaselineOptions(model="acn", export_dir=workspace.exports_dir / "cmner", epochs=4, lr=0.02, batch_size=4,
                        hidden=32, embedding_dim=16, device="cpu", seed=5),
        runs_dir=workspace.runs_dir, features_root=workspace.root / "features")
    workspace.close()
    return {"ws": root / "ws", "outcome": outcome, "release": release}


def _predict(trained, *args):
    result = run_cli("-w", trained["ws"], "predict", trained["outcome"].run_id, "--device", "cpu", "--json", *args)
    assert result.exit_code == 0, result.error or result.output
    return json.loads(result.stdout)


def test_gold_posts_reproduce_the_runs_own_scores_exactly(trained):
    report = _predict(trained, "--posts", "gold")
    metrics = trained["outcome"].metrics
    assert 0 < metrics["test"]["f1"] < 100  # a score that can differ
    assert report["scores"]["test"] == metrics["test"] and report["scores"]["dev"] == metrics["dev"]
    assert report["posts"] == 42 and report["stored"] == 42


def test_ready_posts_are_stored_as_suggestions_in_code_points(trained, tmp_path):
    out = tmp_path / "ready.jsonl"
    report = _predict(trained, "--posts", "ready", "--out", str(out))
    assert (report["posts"], report["stored"], report["scores"]) == (3, 3, {})
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {line["post_id"] for line in lines} == set(ASTRAL)
    assert [post_id for post_id, _ in report["least_sure"]] == [line["post_id"] for line in
                                                                sorted(lines, key=lambda line: line["margin"])]
    with Store(trained["ws"] / "corpus.db") as store:
        stored = {(row["post_id"], row["start"], row["end"], row["label"]): row["confidence"] for row in store.query(
            "SELECT * FROM run_suggestions WHERE run_id = ? AND post_id IN ('R1', 'R2', 'R3')", (report["run_id"],))}
        margins = {row["post_id"]: row["margin"] for row in store.query(
            "SELECT post_id, margin FROM run_predictions WHERE run_id = ?", (report["run_id"],))}
    expected = {(line["post_id"], span["start"], span["end"], span["label"]): span["confidence"]
                for line in lines for span in line["spans"]}
    assert expected and set(stored) == set(expected)
    for (post_id, start, end, _), confidence in stored.items():
        assert confidence == pytest.approx(expected[(post_id, start, end, _)], abs=1e-4)
    for line in lines:
        assert margins[line["post_id"]] == pytest.approx(line["margin"], abs=1e-4)
        for span in line["spans"]:  # code points: the astral first character shifts nothing
            assert ASTRAL[line["post_id"]][span["start"] : span["end"]] == span["text"]
    # Predicting again replaces, never duplicates.
    _predict(trained, "--posts", "ready", "--out", str(out))
    with Store(trained["ws"] / "corpus.db") as store:
        assert store.scalar("SELECT COUNT(*) FROM run_suggestions WHERE run_id = ? AND post_id IN ('R1','R2','R3')",
                            (report["run_id"],)) == len(expected)


def test_a_file_of_posts_release_or_jsonl(trained, tmp_path):
    report = _predict(trained, "--from", str(trained["release"] / "test.txt"), "--out", str(tmp_path / "t.jsonl"))
    assert report["scores"]["file"] == trained["outcome"].metrics["test"]
    assert report["stored"] == 10  # the same posts, same text, are in the workspace
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"post_id": "X1", "text": "😀王芳在杭州西湖"}, ensure_ascii=False) + "\n"
                     + json.dumps({"id": "X2", "tokens": ["Tom", "in", "NYC"]}) + "\n", encoding="utf-8")
    report = _predict(trained, "--from", str(posts), "--out", str(tmp_path / "x.jsonl"))
    assert (report["posts"], report["stored"]) == (2, 0)  # not workspace posts: JSONL only
    lines = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == ["😀王芳在杭州西湖", "Tom in NYC"]


def test_bad_input_is_a_clear_error(trained, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"post_id": "../x", "text": "a"}\n', encoding="utf-8")
    result = run_cli("-w", trained["ws"], "predict", trained["outcome"].run_id, "--from", str(bad))
    assert result.exit_code != 0 and "not a valid post id" in result.error
    result = run_cli("-w", trained["ws"], "predict", "no-such-run")
    assert result.exit_code != 0 and "no finished run" in result.error
    result = run_cli("-w", trained["ws"], "predict", trained["outcome"].run_id, "--posts", "nothing")
    assert result.exit_code != 0 and "--posts" in result.error
