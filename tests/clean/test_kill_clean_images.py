"""SIGKILL `clean` and `images` while they write, re-run, and check nothing is lost, half-done or doubled."""

from __future__ import annotations

from cmner_build.workspace import Workspace

from tests.clean.test_commands import fill_like_crawl
from tests.kill_helpers import assert_ok, cli, integrity_ok, rows

POSTS = "SELECT post_id, text, status, drop_reason, dup_group FROM posts ORDER BY post_id"
IMAGES = "SELECT image_id, post_id, position, file_name, status, drop_reason, sha256, phash FROM images ORDER BY image_id"


def test_clean_then_images_killed_while_writing_then_rerun(workspace: Workspace) -> None:
    fill_like_crawl(workspace)
    workspace.close()
    root, db = workspace.root, workspace.root / "corpus.db"
    crawled_posts, crawled_images = rows(db, POSTS), rows(db, IMAGES)

    for kill_at in ("clean.write:1", "clean.write:3"):
        cli("-w", root, "clean", kill_at=kill_at)
        integrity_ok(db)
        assert rows(db, POSTS) == crawled_posts  # the transaction never committed: nothing half-cleaned
    assert_ok(cli("-w", root, "clean"))
    integrity_ok(db)
    cleaned = rows(db, POSTS)
    assert {status for _, _, status, _, _ in cleaned} == {"cleaned", "dropped"}
    assert rows(db, IMAGES) == crawled_images

    for kill_at in ("images.update:1", "images.update:30"):
        cli("-w", root, "images", "--workers", "1", kill_at=kill_at)
        integrity_ok(db)
        assert rows(db, IMAGES) == crawled_images
        assert rows(db, POSTS) == cleaned
    assert_ok(cli("-w", root, "images", "--workers", "1"))
    integrity_ok(db)
    statuses = dict(rows(db, "SELECT status, COUNT(*) FROM posts GROUP BY status"))
    assert statuses == {"ready": 60, "dropped": 2}  # what an uninterrupted run gives (test_commands)
    images = rows(db, IMAGES)
    assert [row[:4] for row in images] == [row[:4] for row in crawled_images]  # none lost, none doubled
    undecided = rows(db, "SELECT i.post_id FROM images i JOIN posts p USING (post_id) WHERE i.status = 'downloaded'")
    assert undecided == [("ZLONG0001",)]  # only the image of the post `clean` dropped (too long) stays unchecked
    assert_ok(cli("-w", root, "images", "--workers", "1"))  # and a re-run changes nothing
    assert rows(db, IMAGES) == images
