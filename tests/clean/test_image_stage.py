"""The images stage end to end: a workspace filled through the store, then `cmner-build images --report`."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from cmner_build.clean.image_stage import process_images
from cmner_build.clean.settings import ImageOptions
from cmner_build.workspace import Workspace

from tests.clean_helpers import add_images, add_post, photo_like, save_photo, snapshot
from tests.helpers import run_cli


def fill(workspace: Workspace) -> None:
    """Posts in every situation the stage must handle; files under the workspace's images/."""
    store, images = workspace.store, workspace.images_dir
    save_photo(images / "A_0.jpg", 1)
    photo_like(1).resize((320, 240)).save(images / "A_1.jpg", "JPEG", quality=70)  # same picture, smaller
    save_photo(images / "A_2.jpg", 2)
    photo_like(2).save(images / "B_0.jpg", "JPEG", quality=60)  # repost of A_2, re-encoded
    (images / "C_0.jpg").write_bytes(b"")
    save_photo(images / "D_0.jpg", 4)
    save_photo(images / "F_0.jpg", 6)
    Image.new("RGB", (400, 300), "white").save(images / "H_0.jpg")
    save_photo(images / "H_1.jpg", 8, (60, 60))
    with store.transaction():
        for post_id, status in [("A", "cleaned"), ("B", "cleaned"), ("C", "cleaned"), ("D", "cleaned"),
                                ("E", "cleaned"), ("F", "crawled"), ("G", "cleaned"), ("H", "cleaned")]:
            add_post(store, post_id, f"帖子{post_id}", status=status)
        add_images(store, "A", [("A_0.jpg", "downloaded"), ("A_1.jpg", "downloaded"), ("A_2.jpg", "downloaded")])
        add_images(store, "B", [("B_0.jpg", "downloaded")])
        add_images(store, "C", [("C_0.jpg", "downloaded")])
        add_images(store, "D", [("D_0.jpg", "downloaded"), (None, "pending")])
        # E has no image at all; F is not cleaned yet; G's file never arrived; H has only unusable images.
        add_images(store, "F", [("F_0.jpg", "downloaded")])
        add_images(store, "G", [("G_0.jpg", "downloaded"), (None, "downloaded"), ("../corpus.db", "downloaded")])
        add_images(store, "H", [("H_0.jpg", "downloaded"), ("H_1.jpg", "downloaded")])


def statuses(workspace: Workspace) -> tuple[dict, dict]:
    posts = {row["post_id"]: (row["status"], row["drop_reason"]) for row in workspace.store.query("SELECT * FROM posts")}
    images = {
        f"{row['post_id']}_{row['position']}": (row["status"], row["drop_reason"])
        for row in workspace.store.query("SELECT * FROM images")
    }
    return posts, images


def test_images_command_end_to_end(workspace: Workspace) -> None:
    fill(workspace)
    result = run_cli("-w", workspace.root, "images", "--report", "--json")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    posts, images = statuses(workspace)
    assert images == {
        "A_0": ("kept", None),
        "A_1": ("dropped", "duplicate_in_post"),
        "A_2": ("kept", None),
        "B_0": ("dropped", "duplicate_across_posts"),
        "C_0": ("dropped", "empty_file"),
        "D_0": ("kept", None),
        "D_1": ("pending", None),
        "F_0": ("downloaded", None),
        "G_0": ("dropped", "missing_file"),
        "G_1": ("dropped", "missing_file"),
        "G_2": ("dropped", "missing_file"),
        "H_0": ("dropped", "near_blank"),
        "H_1": ("dropped", "too_small"),
    }
    assert posts == {
        "A": ("ready", None),
        "B": ("dropped", "no_usable_image"),
        "C": ("dropped", "no_usable_image"),
        "D": ("cleaned", None),
        "E": ("dropped", "no_image"),
        "F": ("crawled", None),
        "G": ("dropped", "no_usable_image"),
        "H": ("dropped", "no_usable_image"),
    }
    summary = output["images"]
    assert (summary["checked"], summary["kept"]) == (11, 3)
    assert summary["posts_waiting"] == ["D"] and summary["images_of_uncleaned_posts"] == 1
    assert summary["posts_dropped"] == {"no_usable_image": ["B", "C", "G", "H"], "no_image": ["E"]}
    # What is stored for a kept image and for a duplicate.
    row = workspace.store.query("SELECT * FROM images WHERE post_id = 'A' AND position = 0")[0]
    assert (row["width"], row["height"], len(row["phash"]), len(row["sha256"])) == (640, 480, 16, 64)
    duplicate = json.loads(workspace.store.scalar("SELECT meta FROM images WHERE post_id = 'B'"))["check"]
    assert duplicate["duplicate_of"] == "A_2.jpg" and duplicate["distance"] <= 8
    # The report: the page exists, shows thumbnails and placeholders, and lists every drop.
    page = Path(output["report"]["path"])
    assert page == workspace.exports_dir / "images_report.html"
    content = page.read_text(encoding="utf-8")
    assert content.count("data:image/jpeg;base64,") >= 4  # A_1 + A_0 beside it, B_0 + A_2, H_0, H_1
    assert '<div class="placeholder">empty_file</div>' in content
    assert "no_image" in content and "posts waiting" in content.lower()
    assert output["report"]["by_reason"] == {
        "duplicate_in_post": 1, "duplicate_across_posts": 1, "empty_file": 1, "missing_file": 3,
        "near_blank": 1, "too_small": 1,
    }


def test_rerun_changes_nothing_and_new_downloads_are_checked_later(workspace: Workspace) -> None:
    fill(workspace)
    options = ImageOptions(workers=1)
    process_images(workspace.store, workspace.images_dir, options)
    before = snapshot(workspace.store)
    events = workspace.store.scalar("SELECT COUNT(*) FROM events")
    again = process_images(workspace.store, workspace.images_dir, options)
    assert (again.checked, again.posts_ready, again.posts_dropped) == (0, [], {})
    assert snapshot(workspace.store) == before
    assert workspace.store.scalar("SELECT COUNT(*) FROM events") == events
    # D's second image arrives: a re-encode of A_0, already kept, so the new copy is the one dropped.
    photo_like(1).save(workspace.images_dir / "D_1.jpg", "JPEG", quality=75)
    workspace.store.execute("UPDATE images SET status = 'downloaded', file_name = 'D_1.jpg' WHERE post_id = 'D' AND position = 1")
    later = process_images(workspace.store, workspace.images_dir, options)
    posts, images = statuses(workspace)
    assert images["D_1"] == ("dropped", "duplicate_across_posts")
    assert images["A_0"] == ("kept", None)
    assert posts["D"] == ("ready", None) and later.posts_ready == ["D"]


def test_images_of_dropped_posts_take_no_part(workspace: Workspace) -> None:
    store = workspace.store
    save_photo(workspace.images_dir / "X_0.jpg", 9)
    photo_like(9).save(workspace.images_dir / "Y_0.jpg", "JPEG", quality=70)
    add_post(store, "X", "被丢掉的帖子", status="dropped")
    store.execute("UPDATE posts SET drop_reason = 'unfit:violence' WHERE post_id = 'X'")
    add_post(store, "Y", "新帖子", status="cleaned")
    add_images(store, "X", [("X_0.jpg", "kept")])
    store.execute("UPDATE images SET phash = ? WHERE post_id = 'X'", ("ffffffffffffffff",))
    add_images(store, "Y", [("Y_0.jpg", "downloaded")])
    report = process_images(store, workspace.images_dir, ImageOptions(workers=1))
    assert report.posts_ready == ["Y"]


def test_bad_image_settings_are_reported(workspace: Workspace) -> None:
    text = workspace.config_path.read_text(encoding="utf-8").replace("hamming_threshold = 8", "hamming_threshold = 70")
    workspace.config_path.write_text(text, encoding="utf-8")
    result = run_cli("-w", workspace.root, "images")
    assert result.exit_code == 2
    assert result.error == f"{workspace.config_path}: images.hamming_threshold must be between 0 and 64, found 70"


def test_images_report_on_screen(workspace: Workspace) -> None:
    fill(workspace)
    result = run_cli("-w", workspace.root, "images", "--report")
    assert result.exit_code == 0
    for expected in ("duplicate_in_post", "A_1.jpg", "empty_file", "C_0.jpg", "images_report.html"):
        assert expected in result.output


def poster(background: tuple[int, int, int], foreground: tuple[int, int, int]) -> Image.Image:
    """A flat graphic: the same layout whatever the colours."""
    from PIL import ImageDraw

    image = Image.new("RGB", (480, 360), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 420, 120), fill=foreground)
    draw.ellipse((150, 170, 330, 320), fill=foreground)
    return image


def test_same_layout_in_other_colours_is_not_a_duplicate(workspace: Workspace) -> None:
    """pHash is colour-blind: the colour-balance check keeps two posters that differ only in colour."""
    from cmner_build.clean.image_check import check_image
    from cmner_build.clean.image_dedupe import hamming_distance

    store = workspace.store
    poster((150, 140, 50), (235, 230, 180)).save(workspace.images_dir / "P_0.jpg", quality=90)
    poster((40, 70, 200), (170, 200, 255)).save(workspace.images_dir / "Q_0.jpg", quality=90)
    poster((150, 140, 50), (235, 230, 180)).resize((360, 270)).save(workspace.images_dir / "R_0.jpg", quality=80)
    checks = [check_image(n, workspace.images_dir / f"{name}_0.jpg", ImageOptions()) for n, name in enumerate("PQR")]
    assert hamming_distance(checks[0].phash, checks[1].phash) <= 8  # the grey-level structure is the same
    for post_id in "PQR":
        add_post(store, post_id, f"海报{post_id}", status="cleaned")
        add_images(store, post_id, [(f"{post_id}_0.jpg", "downloaded")])
    process_images(store, workspace.images_dir, ImageOptions(workers=1))
    _, images = statuses(workspace)
    assert images == {"P_0": ("kept", None), "Q_0": ("kept", None), "R_0": ("dropped", "duplicate_across_posts")}


def test_recheck_applies_changed_settings_and_back(workspace: Workspace) -> None:
    fill(workspace)
    process_images(workspace.store, workspace.images_dir, ImageOptions(workers=1))
    first = statuses(workspace)
    strict = ImageOptions(workers=1, min_side=500)  # every 640x480 photo is now too small
    report = process_images(workspace.store, workspace.images_dir, strict, recheck=True)
    posts, images = statuses(workspace)
    assert images["A_0"] == ("dropped", "too_small") and images["D_0"] == ("dropped", "too_small")
    assert posts["A"] == ("dropped", "no_usable_image") and posts["D"] == ("cleaned", None)  # D waits for D_1
    assert report.posts_dropped == {"no_usable_image": ["A"]}
    assert posts["F"] == ("crawled", None) and images["F_0"] == ("downloaded", None)  # not cleaned: untouched
    result = run_cli("-w", workspace.root, "images", "--recheck", "--json")
    assert result.exit_code == 0, result.output
    assert statuses(workspace) == first
