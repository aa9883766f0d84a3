"""Kill test: a crawl subprocess is SIGKILLed at random moments; re-running the same command finishes
the crawl with exactly the posts and pictures the server offered, and no request repeated beyond the
one in flight at each kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmner_build.workspace import Workspace, init_workspace

from tests.fake_weibo import assert_complete, build_scenario, set_crawl_settings

KILLS = 5
FAST = {"delay": "0.0", "jitter": "0.0", "image_delay": "0.0", "backoff_base": "0.001", "backoff_cap": "0.01",
        "max_retries": "3", "timeout": "2.0"}


def crawl_command(root: Path, base_url: str, image_base: str) -> list[str]:
    return [
        sys.executable, "-c", "from cmner_build.cli import main; main()",
        "-w", str(root), "crawl", "--topic", "体育", "--api-base", base_url, "--image-base", image_base,
    ]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    scenario = build_scenario(posts=16, search_posts=6, seed=11)
    site = scenario.site
    site.latency = 0.01  # spread the crawl so that kills land in every phase
    site.start()
    root = tmp_path / "ws"
    workspace, _ = init_workspace(root)
    workspace.close()
    set_crawl_settings(root / "cmner.toml", FAST)
    command = crawl_command(root, site.base_url, site.image_base)
    env = {**os.environ, "COLUMNS": "100"}
    rng = random.Random(int(os.environ.get("CRAWL_KILL_SEED", "20240620")))
    log = tmp_path / "runs.log"
    try:
        kills = 0
        for _ in range(KILLS):
            started_served = sum(site.served.values())
            with open(log, "ab") as output:
                process = subprocess.Popen(command, stdout=output, stderr=output, env=env)
                # wait until this run has made progress (imports take a while), then kill it mid-way
                deadline = time.monotonic() + 20
                target = rng.randint(1, 8)
                while sum(site.served.values()) < started_served + target and process.poll() is None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.05))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                process.wait(timeout=30)
        final = subprocess.run(command, capture_output=True, env=env, timeout=120)
        assert final.returncode == 0, final.stderr.decode(errors="replace")[-2000:]
    finally:
        site.stop()
    assert kills >= 3  # the kills really interrupted runs

    workspace = Workspace(root)
    try:
        assert_complete(workspace, scenario)
        repeated = sum(count - 1 for count in site.served.values() if count > 1)
        assert repeated <= kills, {target: n for target, n in site.served.items() if n > 1}
        queries = workspace.store.query("SELECT done FROM crawl_queries")
        assert [row["done"] for row in queries] == [1, 1]
        assert not list(root.rglob("*.part"))
        assert workspace.store.scalar("PRAGMA integrity_check") == "ok"
        # nothing duplicated: one row per post and per picture, and the archive index names files that exist
        assert workspace.store.scalar("SELECT COUNT(*) FROM crawl_posts") == workspace.store.scalar(
            "SELECT COUNT(DISTINCT mid) FROM crawl_posts")
    finally:
        workspace.close()
