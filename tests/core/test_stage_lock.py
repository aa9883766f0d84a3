"""safety.stage_lock / holds_stage_lock (re-entrant in a process, refused across processes) and
workspace.workspace_for_run (a failed run that stored nothing leaves no workspace behind)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cmner_build.errors import CmnerError, WorkspaceError
from cmner_build.safety import holds_stage_lock, stage_lock
from cmner_build.store import Store
from cmner_build.workspace import init_workspace, workspace_for_run


def test_the_lock_is_reentrant_in_one_process_and_refused_in_another(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from cmner_build.safety import stage_lock\n"
        f"with stage_lock({str(tmp_path)!r}, 'demo'):\n    print('held', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkspaceError, match=rf"another `demo` is running in this workspace \(pid {holder.pid}\)"):
            with stage_lock(tmp_path, "demo"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with stage_lock(tmp_path, "demo"), stage_lock(tmp_path, "demo"):  # nested: the same process
        pass
    with stage_lock(tmp_path, "demo"):  # released after the nested exit
        pass


def test_the_decorator_locks_the_workspace_of_its_store(tmp_path: Path) -> None:
    workspace, _ = init_workspace(tmp_path / "ws")
    seen = []

    @holds_stage_lock("demo")
    def write(store: Store) -> None:
        seen.append((workspace.root / ".demo.lock").exists())

    write(workspace.store)
    assert seen == [True]
    with pytest.raises(TypeError, match="needs a Store"):
        write("not a store")  # type: ignore[arg-type]
    workspace.close()


def test_a_failed_run_that_stored_nothing_leaves_no_workspace(tmp_path: Path) -> None:
    root = tmp_path / "new" / "ws"
    with pytest.raises(CmnerError):
        with workspace_for_run(root):
            raise CmnerError("the run failed")
    assert not (tmp_path / "new").exists()


def test_a_failed_run_that_stored_posts_keeps_them(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with pytest.raises(CmnerError):
        with workspace_for_run(root) as workspace:
            workspace.store.execute(
                "INSERT INTO posts (post_id, source, original_text, text, status, created_at, updated_at)"
                " VALUES ('P1', 'crawl', 't', 't', 'crawled', '', '')")
            raise CmnerError("stopped half-way")
    assert (root / "corpus.db").exists()
