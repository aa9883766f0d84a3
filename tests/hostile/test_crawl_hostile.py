"""Hostile input for the crawl, through the CLI: bad post ids (path traversal, `/`, NUL, newline) from an
archive and from a served stand-in, topic names with rich markup or path separators, picture URLs that
answer with bodies that are no picture, unusable cookies, DNS and refused connections.

Each test checks: no traceback (run_cli re-raises anything but a CmnerError), nothing written outside the
workspace (an empty sentinel folder beside it stays empty), every bad item named with its reason.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from cmner_build.workspace import Workspace, init_workspace

from tests.fake_weibo import Container, FakeWeibo, jpeg_bytes, make_mblog, set_crawl_settings
from tests.helpers import run_cli

FAST = {"delay": "0.0", "jitter": "0.0", "image_delay": "0.0", "backoff_base": "0.001", "backoff_cap": "0.01",
        "max_retries": "1", "timeout": "2.0"}
TOPIC = "体育"
BASE_MID = 4_950_000_000_000_000


def hostile_bids(sentinel: Path) -> list[str]:
    return [f"/../../{sentinel.name}/outside/pwn", "a/b", "a\x00b", "a\nb"]


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(workspace root, sentinel folder beside it); the workspace uses fast crawl settings."""
    workspace, _ = init_workspace(tmp_path / "ws")
    workspace.close()
    set_crawl_settings(workspace.config_path, FAST)
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    return workspace.root, sentinel


def mblogs_with_bad_ids(sentinel: Path, images: dict[str, bytes]) -> tuple[list[dict], str]:
    """Four posts with hostile bids, then one good post; returns (mblogs, the good post's bid)."""
    mblogs = []
    for index, bid in enumerate(hostile_bids(sentinel)):
        pid = f"badpid{index}"
        images[pid] = jpeg_bytes(index)
        mblog = make_mblog(BASE_MID + index, f"第{index}条：{TOPIC}新闻", [pid], topic=TOPIC)
        mblog["bid"] = bid
        mblogs.append(mblog)
    good = make_mblog(BASE_MID + 9, f"好的一条：{TOPIC}新闻", ["goodpid"], topic=TOPIC)
    images["goodpid"] = jpeg_bytes(99)
    mblogs.append(good)
    return mblogs, good["bid"]


def assert_rejections_named(root: Path, summary: dict, bids: list[str]) -> None:
    rejected = "\n".join(summary["rejected"])
    for bid in bids:
        assert repr(bid) in rejected, (bid, rejected)
    workspace = Workspace(root)
    try:
        events = [row["message"] for row in workspace.store.query(
            "SELECT message FROM events WHERE stage = 'crawl' AND kind = 'rejected'")]
        stored = {row["post_id"] for row in workspace.store.query("SELECT post_id FROM posts")}
    finally:
        workspace.close()
    for bid in bids:
        assert any(repr(bid) in message for message in events), bid
        assert bid not in stored


def test_archive_posts_with_hostile_ids_are_dropped_named_and_counted(layout, tmp_path: Path) -> None:
    root, sentinel = layout
    images: dict[str, bytes] = {}
    mblogs, good = mblogs_with_bad_ids(sentinel, images)
    archive = tmp_path / "recorded"
    (archive / "images").mkdir(parents=True)
    page = {"ok": 1, "data": {"cardlistInfo": {"containerid": f"231522type=1&t=10&q=#{TOPIC}#", "page": None},
                              "cards": [{"card_type": 9, "mblog": mblog} for mblog in mblogs]}}
    (archive / "page1.json").write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    for pid, data in images.items():
        (archive / "images" / f"{pid}.jpg").write_bytes(data)

    result = run_cli("-w", root, "crawl", "--from-archive", archive, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == {"invalid_id": 4} and summary["posts_kept"] == 1
    assert "rejected" in result.stderr and "bid 'a/b' is not a" in result.stderr
    assert_rejections_named(root, summary, hostile_bids(sentinel))
    assert not any(sentinel.rglob("*")), list(sentinel.rglob("*"))
    assert sorted(p.name for p in (root / "images").iterdir()) == [f"{good}_0.jpg"]


def test_online_crawl_drops_hostile_ids_and_records_broken_pictures(layout) -> None:
    root, sentinel = layout
    site = FakeWeibo()
    mblogs, good = mblogs_with_bad_ids(sentinel, site.images)
    broken = {  # pid -> (body, the reason recorded on the image)
        "htmlpage": (b"<!DOCTYPE html><html><body>blocked</body></html>", "html_not_image"),
        "svgimage": (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "not_an_image"),
        "emptybody": (b"", "empty_file"),
        "cutjpeg": (jpeg_bytes(5)[:60], "truncated"),
    }
    for index, (pid, (body, _)) in enumerate(broken.items()):
        site.images[pid] = body
        mblogs.insert(index, make_mblog(BASE_MID + 20 + index, f"坏图{index}：{TOPIC}", [pid], topic=TOPIC))
    after = make_mblog(BASE_MID + 40, f"坏图之后：{TOPIC}", ["afterpid"], topic=TOPIC)  # fetched after the bad ones
    site.images["afterpid"] = jpeg_bytes(40)
    mblogs.append(after)
    site.containers[f"231522type=1&t=10&q=#{TOPIC}#"] = Container(mblogs, page_size=20)
    site.start()
    try:
        args = ("-w", root, "crawl", "-t", TOPIC, "--container", "topic", "--api-base", site.base_url,
                "--image-base", site.image_base, "--json")
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["skipped"] == {"invalid_id": 4}
        assert summary["images_bad"] == {"html_not_image": 1, "not_an_image": 1, "empty_file": 1, "truncated": 1}
        assert summary["images_downloaded"] == 2 and summary["posts_kept"] == 6
        assert not any(kind.startswith(("http_", "network", "timeout")) for kind in summary["faults"])
        # at most one retry per bad body, and no stop: the picture after them was fetched
        for pid in broken:
            hits = sum(n for target, n in site.served.items() if f"/{pid}.jpg" in target)
            assert hits == 2, (pid, hits)
        assert_rejections_named(root, summary, hostile_bids(sentinel))
        workspace = Workspace(root)
        try:
            rows = {json.loads(row["meta"])["pid"]: row for row in workspace.store.query("SELECT * FROM images")}
        finally:
            workspace.close()
        for pid, (_, reason) in broken.items():
            assert rows[pid]["status"] == "dropped" and rows[pid]["drop_reason"] == reason
            assert json.loads(rows[pid]["meta"])["check"]["detail"]
        assert rows["afterpid"]["status"] == "downloaded"
        # a re-run of --download-images is not wedged by the bad pictures
        again = run_cli("-w", root, "crawl", "--download-images", "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["images_found"] == 0
    finally:
        site.stop()
    assert not any(sentinel.rglob("*"))


def test_topic_with_markup_prints_and_stats_still_work(layout) -> None:
    root, _ = layout
    topic = "[red]体育"  # without escaping, rich would eat "[red]"
    site = FakeWeibo()
    site.images["p1"] = jpeg_bytes(1)
    site.containers[f"231522type=1&t=10&q=#{topic}#"] = Container(
        [make_mblog(BASE_MID + 1, "比赛[bold]很精彩", ["p1"])])
    site.start()
    try:
        result = run_cli("-w", root, "crawl", "-t", topic, "--container", "topic", "--api-base", site.base_url,
                         "--image-base", site.image_base)
    finally:
        site.stop()
    assert result.exit_code == 0, result.output
    assert topic in result.stderr
    stats = run_cli("-w", root, "stats", "--no-plots")
    assert stats.exit_code == 0, stats.output
    assert topic in stats.stdout


def test_stats_survive_a_stored_topic_that_is_broken_markup(layout) -> None:
    root, _ = layout
    workspace = Workspace(root)
    try:
        with workspace.store.transaction():
            workspace.store.execute(
                "INSERT INTO posts (post_id, topic, source, original_text, text, tokenization, status, meta,"
                " created_at, updated_at) VALUES ('P1', '[/red]', 'import', 't', 't', 'char', 'crawled', '{}', '', '')")
    finally:
        workspace.close()
    stats = run_cli("-w", root, "stats", "--no-plots")
    assert stats.exit_code == 0, stats.output
    assert "[/red]" in stats.stdout


def test_archive_topic_that_cannot_be_a_name_is_skipped_with_its_reason(layout, tmp_path: Path) -> None:
    root, sentinel = layout
    archive = tmp_path / "recorded"
    archive.mkdir()
    page = {"ok": 1, "data": {"cardlistInfo": {"containerid": "231522type=1&t=10&q=#x/y#"},
                              "cards": [{"card_type": 9, "mblog": make_mblog(BASE_MID, "文本", ["p"])}]}}
    (archive / "page.json").write_text(json.dumps(page), encoding="utf-8")
    result = run_cli("-w", root, "crawl", "--from-archive", archive, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files_skipped"] == {"bad_topic": 1} and summary["posts_kept"] == 0
    assert "topic 'x/y' contains a path separator" in summary["rejected"][0]


@pytest.mark.parametrize("topic, message", [
    ("", "topic '' is empty"),
    ("a/b", "topic 'a/b' contains a path separator"),
    ("a\nb", "contains the control or invisible character U+000A"),
])
def test_bad_topic_option_is_refused(layout, topic: str, message: str) -> None:
    root, _ = layout
    result = run_cli("-w", root, "crawl", "--topic", topic)
    assert result.exit_code == 2 and message in result.error


@pytest.mark.parametrize("cookie, message", [
    ("SUB=abc\u4e2d文def", "contains a non-ASCII character (character 8)"),
    ("SUB=abc\r\nX-Injected: 1", "contains a line break (character 8)"),
])
def test_unusable_cookie_is_a_clear_error_that_never_shows_it(tmp_path: Path, cookie: str, message: str) -> None:
    root = tmp_path / "new" / "ws"  # missing: a failed crawl must not leave it behind
    result = run_cli("-w", root, "crawl", "--topic", TOPIC, "--api-base", "http://127.0.0.1:9",
                     env={"WEIBO_COOKIE": cookie})
    assert result.exit_code == 2, result.output
    assert "$WEIBO_COOKIE " + message in result.error
    assert "abc" not in result.error + result.output
    assert not (tmp_path / "new").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("api_base, cause", [
    ("http://no-such-host.invalid", "could not resolve host no-such-host.invalid"),
    (f"http://127.0.0.1:{free_port()}", "connection refused by 127.0.0.1"),
])
def test_transport_failures_name_their_real_cause(layout, api_base: str, cause: str) -> None:
    root, _ = layout
    result = run_cli("-w", root, "crawl", "--topic", TOPIC, "--api-base", api_base, env={"WEIBO_COOKIE": ""})
    assert result.exit_code == 2, result.output
    assert cause in result.error and "throttling" not in result.error


def test_archive_links_are_not_followed(layout, tmp_path: Path) -> None:
    root, _ = layout
    secret = tmp_path / "secret.json"
    page = {"ok": 1, "data": {"cardlistInfo": {"containerid": f"231522type=1&t=10&q=#{TOPIC}#"},
                              "cards": [{"card_type": 9, "mblog": make_mblog(BASE_MID, "秘密", ["p"])}]}}
    secret.write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    archive = tmp_path / "recorded"
    archive.mkdir()
    (archive / "page.json").symlink_to(secret)
    result = run_cli("-w", root, "crawl", "--from-archive", archive, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["posts_seen"] == 0


def test_hostile_crawl_killed_at_several_points_then_resumed(layout, tmp_path: Path) -> None:
    """Bad ids and broken pictures under SIGKILL: the re-run ends with exactly the good posts, every bad
    picture recorded once with its reason, nothing outside the workspace, an intact store."""
    import os
    import random
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    root, sentinel = layout
    site = FakeWeibo()
    site.latency = 0.01
    mblogs, _ = mblogs_with_bad_ids(sentinel, site.images)
    bad_body = {"goodpid": False}  # picture id -> whether its body is an HTML page
    for index in range(16):
        pid = f"fine{index:02d}"
        bad_body[pid] = index % 4 == 0
        site.images[pid] = b"<html>blocked</html>" if bad_body[pid] else jpeg_bytes(100 + index)
        mblogs.append(make_mblog(BASE_MID + 100 + index, f"第{index}条：{TOPIC}比赛", [pid], topic=TOPIC))
    site.containers[f"231522type=1&t=10&q=#{TOPIC}#"] = Container(mblogs, page_size=5)
    site.start()
    command = [sys.executable, "-c", "from cmner_build.cli import main; main()", "-w", str(root), "crawl",
               "-t", TOPIC, "--container", "topic", "--api-base", site.base_url, "--image-base", site.image_base]
    rng = random.Random(int(os.environ.get("CRAWL_KILL_SEED", "20240620")))
    kills = 0
    try:
        for _ in range(4):
            served = sum(site.served.values())
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while sum(site.served.values()) < served + rng.randint(1, 6) and process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        final = subprocess.run(command, capture_output=True, timeout=120)
        assert final.returncode == 0, final.stderr.decode(errors="replace")[-2000:]
    finally:
        site.stop()
    assert kills >= 2
    connection = sqlite3.connect(root / "corpus.db")
    connection.row_factory = sqlite3.Row
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        posts = [row["post_id"] for row in connection.execute("SELECT post_id FROM posts")]
        images = {json.loads(row["meta"])["pid"]: row for row in connection.execute("SELECT * FROM images")}
    finally:
        connection.close()
    assert len(posts) == len(set(posts)) == 17  # the good posts, each once; no post with a bad id
    assert set(images) == set(bad_body)
    for pid, is_bad in bad_body.items():
        row = images[pid]
        if is_bad:
            assert (row["status"], row["drop_reason"]) == ("dropped", "html_not_image")
        else:
            assert row["status"] == "downloaded" and (root / "images" / row["file_name"]).is_file()
    files = sorted(path.name for path in (root / "images").iterdir())
    assert files == sorted(row["file_name"] for row in images.values() if row["status"] == "downloaded")
    assert not any(sentinel.rglob("*"))


def test_one_picture_that_keeps_failing_does_not_keep_the_others_from_being_fetched(layout) -> None:
    root, _ = layout
    site = FakeWeibo()
    mblogs = []
    for index, pid in enumerate(("stuck", "second", "third")):
        site.images[pid] = jpeg_bytes(index)
        mblogs.append(make_mblog(BASE_MID + 200 + index, f"第{index}条：{TOPIC}", [pid], topic=TOPIC))
    site.containers[f"231522type=1&t=10&q=#{TOPIC}#"] = Container(mblogs)
    site.fail("/stuck.jpg", *["500"] * 20)
    site.start()
    try:
        stored = run_cli("-w", root, "crawl", "-t", TOPIC, "--container", "topic", "--no-images",
                         "--api-base", site.base_url, "--image-base", site.image_base)
        assert stored.exit_code == 0, stored.output
        first = run_cli("-w", root, "crawl", "--download-images", "--image-base", site.image_base)
        assert first.exit_code == 2 and "the server answered HTTP 500" in first.error
        second = run_cli("-w", root, "crawl", "--download-images", "--image-base", site.image_base)
        assert second.exit_code == 2 and "stuck.jpg" in second.error
    finally:
        site.stop()
    workspace = Workspace(root)
    try:
        rows = {json.loads(row["meta"])["pid"]: row for row in workspace.store.query("SELECT * FROM images")}
    finally:
        workspace.close()
    assert rows["second"]["status"] == rows["third"]["status"] == "downloaded"
    assert rows["stuck"]["status"] == "pending" and json.loads(rows["stuck"]["meta"])["fetch_failures"] == 2
