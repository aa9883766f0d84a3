"""Planning pushes in the store (no server): the pilot, main batches, the pilot gate, resume."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cmner_build.annotate.agreement.runs import PilotGate, latest_pilot_gate
from cmner_build.annotate.push import (
    PilotGateError, plan_main_batches, plan_pilot, require_pilot_passed, unfinished_batches,
    unbatched_ready_posts,
)
from cmner_build.errors import CmnerError
from cmner_build.store import utc_now
from cmner_build.workspace import Workspace

from tests.doccano_support import add_ready_posts
from tests.helpers import run_cli

POOL = ["a", "b", "c", "d", "e", "f"]


def add_posts(workspace: Workspace, count: int) -> None:
    add_ready_posts(workspace.store, {f"p{i:03d}": f"第{i}条微博" for i in range(count)})


def record_pilot_run(workspace: Workspace, passed: int, f1: float, at: str | None = None) -> None:
    workspace.store.execute("INSERT INTO agreement_runs (created_at, round, strict_f1, passed) VALUES (?, 'pilot', ?, ?)",
                            (at or utc_now(), f1, passed))


def test_pilot_goes_to_the_whole_pool_and_is_kept_on_rerun(workspace: Workspace) -> None:
    add_posts(workspace, 30)
    batch_id, created = plan_pilot(workspace.store, POOL, 10, seed=42)
    assert (batch_id, created) == ("pilot", True)
    posts = [row[0] for row in workspace.store.query("SELECT post_id FROM batch_posts WHERE batch_id = 'pilot'")]
    assert len(posts) == 10
    assert sorted(r[0] for r in workspace.store.query("SELECT annotator FROM batch_annotators")) == POOL
    assert plan_pilot(workspace.store, POOL, 25, seed=7) == ("pilot", False)  # resumes, does not redraw
    assert workspace.store.scalar("SELECT COUNT(*) FROM batch_posts") == 10
    # The text as pushed is stored with the batch; the status moves only once the server has it.
    assert workspace.store.scalar("SELECT COUNT(*) FROM batch_posts bp JOIN posts p USING (post_id) "
                                  "WHERE bp.text = p.text AND p.status = 'ready'") == 10
    assert len(unbatched_ready_posts(workspace.store)) == 20
    assert unfinished_batches(workspace.store) == ["pilot"]


def test_main_batches_are_balanced_continue_numbering_and_skip_pilot_posts(workspace: Workspace) -> None:
    add_posts(workspace, 95)
    plan_pilot(workspace.store, POOL, 5, seed=1)
    first = plan_main_batches(workspace.store, POOL, batch_size=20, per_post=3, seed=1)
    assert first == ["batch-0001", "batch-0002", "batch-0003", "batch-0004", "batch-0005"]
    sizes = [workspace.store.scalar("SELECT COUNT(*) FROM batch_posts WHERE batch_id = ?", (b,)) for b in first]
    assert sizes == [20, 20, 20, 20, 10]
    assert workspace.store.scalar("SELECT COUNT(DISTINCT post_id) FROM batch_posts") == 95
    assert plan_main_batches(workspace.store, POOL, batch_size=20, per_post=3, seed=1) == []
    add_ready_posts(workspace.store, {f"late{i}": "新的微博" for i in range(25)})
    assert plan_main_batches(workspace.store, POOL, batch_size=20, per_post=3, seed=1) == ["batch-0006", "batch-0007"]
    groups = [tuple(r[0] for r in workspace.store.query(
        "SELECT annotator FROM batch_annotators WHERE batch_id = ? ORDER BY annotator", (f"batch-{n:04d}",)))
        for n in range(1, 8)]
    assert all(len(group) == 3 for group in groups)
    work = Counter(name for group in groups for name in group)
    assert max(work.values()) - min(work.values()) <= 1
    meta = json.loads(workspace.store.scalar("SELECT meta FROM batches WHERE batch_id = 'batch-0001'"))
    assert meta == {"batch_size": 20, "seed": 1}


def test_pool_too_small_is_a_clear_error(workspace: Workspace) -> None:
    add_posts(workspace, 5)
    with pytest.raises(CmnerError, match="each post needs 3 annotators but the pool has 2"):
        plan_main_batches(workspace.store, ["a", "b"], batch_size=10, per_post=3, seed=1)
    with pytest.raises(CmnerError, match="at least two annotators"):
        plan_pilot(workspace.store, ["a"], 3, seed=1)
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 0


def test_pilot_gate_follows_the_latest_pilot_run(workspace: Workspace) -> None:
    assert latest_pilot_gate(workspace.store) == PilotGate(None, "no pilot agreement has been measured yet")
    record_pilot_run(workspace, 1, 0.93, "2026-01-01T00:00:00+00:00")
    assert latest_pilot_gate(workspace.store).passed is True
    record_pilot_run(workspace, 0, 0.81, "2026-01-02T00:00:00+00:00")
    with pytest.raises(PilotGateError, match=r"did not pass \(strict F1 0.810\).*agreement --round pilot.*--force"):
        require_pilot_passed(workspace.store)


def test_push_refuses_main_batches_before_the_pilot_passed_without_a_server(workspace: Workspace) -> None:
    add_posts(workspace, 5)
    result = run_cli("-w", workspace.root, "annotate", "push")
    assert result.exit_code == 2 and "cmner-build agreement --round pilot" in result.error
    assert workspace.store.scalar("SELECT COUNT(*) FROM batches") == 0
