"""Kill tests of the annotate stage's writers: `adjudicate` (store only) and `annotate push` (against a
served Doccano). Each run is SIGKILLed at several points, then run again to the end; afterwards nothing
is lost, nothing duplicated, the store agrees with the server, and `PRAGMA integrity_check` is ok."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.examples import read_export_zip
from cmner_build.safety import KILL_AT_ENV
from cmner_build.store import utc_now
from cmner_build.workspace import Workspace, init_workspace

from tests.agreement_helpers import add_batch
from tests.doccano_support import ADMIN, ADMIN_PASSWORD, add_ready_posts, configure_workspace, doccano  # noqa: F401
from tests.helpers import run_cli

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
KILL_SEED = int(os.environ.get("ANNOTATE_KILL_SEED", "20240701"))


def cli_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from cmner_build.cli import main; main()", "-w", str(root), *args]


def run_with_kills(command: list[str], kill_points: list[str], log: Path) -> int:
    """Run `command` once per kill point (`<fault point>:<n>`, see `safety.fault_point`), each run
    SIGKILLing itself at that exact instant; returns how many kills landed."""
    kills = 0
    for point in kill_points:
        with open(log, "ab") as output:
            result = subprocess.run(command, stdout=output, stderr=output, timeout=300,
                                    env={**os.environ, KILL_AT_ENV: point})
        kills += result.returncode == -signal.SIGKILL
    return kills


def integrity_ok(root: Path) -> bool:
    connection = sqlite3.connect(root / "corpus.db")
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        connection.close()


def adjudication_state(root: Path) -> dict:
    workspace = Workspace(root)
    try:
        store = workspace.store
        return {
            "gold": sorted(tuple(row) for row in store.query("SELECT post_id, start, end, label FROM gold_spans")),
            "status": sorted(tuple(row) for row in store.query("SELECT post_id, status, drop_reason FROM posts")),
            "clusters": sorted(tuple(row) for row in store.query(
                "SELECT post_id, number, conflict_type, decision, reason FROM adjudication_clusters")),
        }
    finally:
        workspace.close()


def test_adjudicate_killed_at_several_points_ends_as_one_clean_run(tmp_path: Path) -> None:
    workspace, _ = init_workspace(tmp_path / "ws")
    rng = random.Random(KILL_SEED)
    posts = {}
    for index in range(1500):
        text = f"第{index}条：李华在上海见了王芳"
        person = [(5, 7, "PER")]
        choices = [person + [(8, 10, "LOC")], person + [(8, 10, "ORG")], person, [(4, 7, "PER")]]
        posts[f"m{index:04d}"] = (text, {name: rng.choice(choices) for name in ("ann1", "ann2", "ann3")})
    add_batch(workspace.store, "batch-0001", "main", ["ann1", "ann2", "ann3"], posts)
    workspace.close()
    reference = tmp_path / "reference"
    shutil.copytree(workspace.root, reference)
    assert run_cli("-w", reference, "adjudicate", "--auto", "majority").exit_code == 0
    expected = adjudication_state(reference)
    assert expected["gold"] and expected["clusters"]

    command = cli_command(workspace.root, "adjudicate", "--auto", "majority")
    # The first settled post, then deep into the rest: every kill lands between two settled posts.
    points = ["adjudicate.settled:1", "adjudicate.settled:250", "adjudicate.settled:600"]
    kills = run_with_kills(command, points, tmp_path / "runs.log")
    final = subprocess.run(command, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stderr.decode(errors="replace")[-2000:]
    assert kills == len(points)
    assert adjudication_state(workspace.root) == expected
    assert integrity_ok(workspace.root)


def test_concurrent_adjudicate_is_refused(tmp_path: Path) -> None:
    from cmner_build.safety import stage_lock

    workspace, _ = init_workspace(tmp_path / "ws")
    add_batch(workspace.store, "batch-0001", "main", ["ann1", "ann2"], {"m1": ("李华", {"ann1": [], "ann2": []})})
    with stage_lock(workspace.root, "annotate"):
        other = subprocess.run(cli_command(workspace.root, "adjudicate"), capture_output=True, timeout=120)
    workspace.close()
    assert other.returncode == 2
    assert b"another `annotate` is running in this workspace" in other.stderr


def held_posts(url: str, project_id: int) -> list[str]:
    with DoccanoAPI.login(url, ADMIN, ADMIN_PASSWORD) as api:
        files = read_export_zip(api.export_zip(project_id))
    return sorted(example.post_id for example in files[ADMIN])


@pytest.mark.doccano
@pytest.mark.slow
def test_push_killed_at_several_points_then_resumed_holds_each_post_once(tmp_path: Path, doccano) -> None:
    root = tmp_path / "ws"
    workspace, _ = init_workspace(root)
    configure_workspace(root, doccano.url)
    posts = {f"q{i:03d}": f"第{i}条：张伟在北京见了李娜。" for i in range(60)}
    add_ready_posts(workspace.store, posts)
    with workspace.store.transaction():  # the pilot passed (what `agreement --round pilot` records)
        workspace.store.execute("INSERT INTO agreement_runs (created_at, round, strict_f1, passed) "
                                "VALUES (?, 'pilot', 0.95, 1)", (utc_now(),))
    workspace.close()
    assert run_cli("-w", root, "annotate", "users", "add", "ann1", "ann2", "ann3").exit_code == 0

    command = cli_command(root, "annotate", "push", "--batch-size", "10")
    # Killed after creating a project but before recording it, after uploading but before recording the
    # examples, and after a batch was recorded: each leaves Doccano and the store out of step differently.
    points = ["push.project_created:1", "push.chunk_uploaded:1", "push.batch_recorded:1", "push.project_created:2"]
    kills = run_with_kills(command, points, tmp_path / "runs.log")
    final = subprocess.run(command, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stderr.decode(errors="replace")[-2000:]
    assert kills == len(points)
    assert integrity_ok(root)

    workspace = Workspace(root)
    try:
        store = workspace.store
        batches = store.query("SELECT batch_id, project_id, project_name FROM batches ORDER BY batch_id")
        assert len(batches) == 6
        batched = sorted(row[0] for row in store.query("SELECT post_id FROM batch_posts"))
        assert batched == sorted(posts)  # nothing lost, nothing in two batches
        assert store.scalar("SELECT COUNT(*) FROM batch_posts WHERE example_id IS NULL") == 0
        assert store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'annotating'") == len(posts)
        with DoccanoAPI.login(doccano.url, ADMIN, ADMIN_PASSWORD) as admin:
            names = sorted(project["name"] for project in admin.list_projects())
        assert names == sorted(row["project_name"] for row in batches)  # no orphan project from a killed run
        for batch in batches:
            expected = sorted(row[0] for row in store.query(
                "SELECT post_id FROM batch_posts WHERE batch_id = ?", (batch["batch_id"],)))
            assert held_posts(doccano.url, batch["project_id"]) == expected
    finally:
        workspace.close()
