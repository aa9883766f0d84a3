"""The demo's served path against a real Doccano: accounts, the pilot to everyone, the main batch to a
triple, the bundled zips pulled into the pushed batches; then the optional image round."""

from __future__ import annotations

import json
import zipfile

import pytest

from cmner_build.annotate.doccano import demo as doccano_demo
from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.users import read_passwords
from cmner_build.commands.demo import sample_dir
from cmner_build.store import utc_now
from cmner_build.workspace import Workspace

from tests.doccano_support import ADMIN, ADMIN_PASSWORD, configure_workspace, doccano  # noqa: F401 (fixture)
from tests.helpers import run_cli

pytestmark = [pytest.mark.doccano, pytest.mark.slow]
ANNOTATIONS = sample_dir() / "annotations"


def run_step(workspace: Workspace, step) -> list[str] | None:
    args = step(workspace.root)
    if args is None:
        return None
    args = [arg.replace("{sample}", str(sample_dir())) for arg in args]
    result = run_cli("-w", workspace.root, *args)
    assert result.exit_code == 0, result.output
    return args


def demo_pull(workspace: Workspace, zip_name: str) -> None:
    """Run the demo's own pull step for this zip (from DEMO_STEPS)."""
    from cmner_build.commands.demo import DEMO_STEPS

    (args,) = [step.args for step in DEMO_STEPS if not callable(step.args) and any(zip_name in a for a in step.args)]
    result = run_cli("-w", workspace.root, *[arg.replace("{sample}", str(sample_dir())) for arg in args])
    assert result.exit_code == 0, result.output


def zip_posts(name: str) -> list[str]:
    with zipfile.ZipFile(ANNOTATIONS / name) as archive:
        return sorted(json.loads(line)["post_id"] for line in archive.read("ann_a.jsonl").decode().splitlines())


def test_served_demo_path_then_image_round(workspace: Workspace, doccano) -> None:
    configure_workspace(workspace.root, doccano.url)
    assert doccano_demo.users_step(workspace.root) is None  # nothing ready yet: the offline path
    assert run_cli("-w", workspace.root, "import", sample_dir() / "sample.txt", "--format", "cmner",
                   "--images", sample_dir() / "images").exit_code == 0
    workspace.store.execute("UPDATE posts SET status = 'ready', split = NULL")  # as crawl + clean leave them

    assert run_step(workspace, doccano_demo.users_step) == ["annotate", "users", "add", "ann_a", "ann_b", "ann_c"]
    assert run_step(workspace, doccano_demo.push_pilot_step) == ["annotate", "push", "--pilot", "20"]
    pilot = workspace.store.query("SELECT project_id FROM batches WHERE batch_id = 'pilot'")[0]["project_id"]
    pushed = sorted(r[0] for r in workspace.store.query("SELECT post_id FROM batch_posts WHERE batch_id = 'pilot'"))
    assert pushed == zip_posts("pilot.zip")  # the bundled pilot is the sample `push --pilot 20` draws
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as api:
        assert sorted(m["username"] for m in api.list_members(pilot)) == ["admin", "ann_a", "ann_b", "ann_c"]
        assert len(api.list_examples(pilot)) == 20
    assert run_step(workspace, doccano_demo.push_main_step) is None  # the pilot has not passed yet
    demo_pull(workspace, "pilot.zip")
    assert workspace.store.scalar("SELECT COUNT(*) FROM annotations WHERE batch_id = 'pilot' AND confirmed = 1") == 60

    workspace.store.execute("INSERT INTO agreement_runs (created_at, round, strict_f1, passed) "
                            "VALUES (?, 'pilot', 0.98, 1)", (utc_now(),))
    assert run_step(workspace, doccano_demo.push_main_step) == ["annotate", "push"]
    main = workspace.store.query("SELECT batch_id, project_id FROM batches WHERE round = 'main'")
    assert [row["batch_id"] for row in main] == ["batch-0001"]
    assert sorted(r[0] for r in workspace.store.query(
        "SELECT post_id FROM batch_posts WHERE batch_id = 'batch-0001'")) == zip_posts("batch-0001.zip")
    demo_pull(workspace, "batch-0001.zip")
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'annotated'") == 60

    # The image round: every kept image of the pushed posts, one classification project (a few images
    # here, to keep the test short: one upload and one meta update per image).
    workspace.store.execute("UPDATE images SET status = 'dropped', drop_reason = 'test' WHERE post_id NOT IN "
                            "(SELECT post_id FROM posts ORDER BY post_id LIMIT 3)")
    result = run_cli("-w", workspace.root, "annotate", "images")
    assert result.exit_code == 0, result.output
    batch = workspace.store.query("SELECT * FROM batches WHERE round = 'images'")[0]
    images = workspace.store.scalar("SELECT COUNT(*) FROM images WHERE status = 'kept'")
    assert workspace.store.scalar("SELECT COUNT(example_id) FROM annotate_image_examples") == images
    again = run_cli("-w", workspace.root, "annotate", "images")
    assert again.exit_code == 0 and "no kept image" in again.output
    with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as api:
        assert len(api.list_examples(batch["project_id"])) == images

    from doccano_client import DoccanoClient

    rows = workspace.store.query("SELECT e.example_id, i.image_id, i.file_name FROM annotate_image_examples e "
                                 "JOIN images i USING (image_id) ORDER BY i.file_name LIMIT 2")
    votes = {"ann_a": ["unrelated", "unrelated"], "ann_b": ["unrelated", "related"], "ann_c": ["related", "related"]}
    passwords = read_passwords(workspace.root / "annotator-passwords.tsv")
    for user, choices in votes.items():
        client = DoccanoClient(doccano.url)
        client.login(username=user, password=passwords[user])
        example = client.find_example_by_id(batch["project_id"], rows[0]["example_id"])
        assert example.meta["post_id"] == rows[0]["file_name"].rsplit("_", 1)[0]
        for row, choice in zip(rows, choices):
            client.create_category(batch["project_id"], row["example_id"], choice)
    pulled = run_cli("-w", workspace.root, "annotate", "pull")
    assert pulled.exit_code == 0, pulled.output
    status = dict(workspace.store.query("SELECT image_id, status || ':' || COALESCE(drop_reason, '') FROM images "
                                        "WHERE image_id IN (?, ?)", (rows[0]["image_id"], rows[1]["image_id"])))
    assert status == {rows[0]["image_id"]: "dropped:unrelated_to_text", rows[1]["image_id"]: "kept:"}
    assert workspace.store.scalar("SELECT COUNT(*) FROM annotate_image_votes") == 6
    report = json.loads(run_cli("-w", workspace.root, "annotate", "status", "--json").stdout)
    images_batch = next(entry for entry in report if entry["round"] == "images")
    assert (images_batch["posts"], images_batch["pushed"], images_batch["annotated"]) == (images, images, 2)
    assert [(a["username"], a["confirmed"]) for a in images_batch["annotators"]] == [
        ("ann_a", 2), ("ann_b", 2), ("ann_c", 2)]
