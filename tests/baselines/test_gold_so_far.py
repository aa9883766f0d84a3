"""`baseline acn --gold-so-far` trains on the gold as it is now, records its size, and `annotate status`
shows dev F1 against the gold size over those runs."""

from __future__ import annotations

import json

from cmner_build.importer import import_release
from cmner_build.workspace import Workspace

from tests.baselines_helpers import make_posts, write_export
from tests.helpers import run_cli

ARGS = ("--epochs", "1", "--device", "cpu", "--hidden", "16", "--embedding-dim", "16", "--seed", "3", "--json")


def test_runs_on_the_gold_so_far_and_the_status_curve(workspace: Workspace, tmp_path):
    refused = run_cli("-w", workspace.root, "baseline", "acn", "--gold-so-far", *ARGS)
    assert refused.exit_code == 2 and "no gold posts" in refused.error
    first = write_export(tmp_path / "first", {"train": make_posts(20, 31)})
    import_release(workspace.store, [first / "train.txt"], "cmner")
    refused = run_cli("-w", workspace.root, "baseline", "acn", "--gold-so-far", *ARGS)
    assert refused.exit_code == 2 and "0 dev posts" in refused.error  # the release's train split is kept
    workspace.store.execute("UPDATE posts SET split = NULL")  # gold as adjudication makes it: no split yet
    result = run_cli("-w", workspace.root, "baseline", "acn", "--gold-so-far", *ARGS)
    assert result.exit_code == 0, result.error or result.output
    run_one = json.loads(result.stdout)["run_id"]
    config = json.loads((workspace.runs_dir / run_one / "config.json").read_text())
    assert config["gold_posts"] == 20 and config["export_dir"].endswith("gold-so-far")
    splits = dict(workspace.store.query("SELECT post_id, split FROM posts"))
    assert set(splits.values()) == {"train", "dev", "test"}

    second = write_export(tmp_path / "second", {"train": make_posts(15, 32)})
    import_release(workspace.store, [second / "train.txt"], "cmner")
    workspace.store.execute("UPDATE posts SET split = NULL WHERE post_id LIKE 'P32%'")  # new gold has no split yet
    result = run_cli("-w", workspace.root, "baseline", "acn", "--gold-so-far", *ARGS)
    assert result.exit_code == 0, result.error or result.output
    run_two = json.loads(result.stdout)["run_id"]
    # Earlier posts keep their split: dev and test only gain posts.
    assert all(split == splits[post_id] for post_id, split in workspace.store.query("SELECT post_id, split FROM posts")
               if post_id in splits)
    rows = workspace.store.query("SELECT run_id, gold_posts, train_posts, dev_f1 FROM gold_runs ORDER BY rowid")
    assert [(row["run_id"], row["gold_posts"]) for row in rows] == [(run_one, 20), (run_two, 35)]
    assert rows[1]["train_posts"] > rows[0]["train_posts"]
    metrics = json.loads((workspace.runs_dir / run_two / "metrics.json").read_text())
    assert rows[1]["dev_f1"] == metrics["dev"]["f1"]

    status = run_cli("-w", workspace.root, "annotate", "status", env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.error or status.output
    assert "gold so far" in status.output and run_one in status.output and run_two in status.output
    assert status.output.index(run_one) < status.output.index(run_two)
    assert "annotation progress" not in status.output  # no batch yet: only the curve
