"""Imported release images go through the images stage like crawled ones: `import --images`, `--recheck`."""

from __future__ import annotations

import re

from tests.clean_helpers import save_photo
from tests.helpers import run_cli


def statuses(workspace) -> dict[str, tuple[str, str | None]]:
    return {row["file_name"]: (row["status"], row["drop_reason"])
            for row in workspace.store.query("SELECT file_name, status, drop_reason FROM images")}


def test_recheck_includes_imported_images_and_never_moves_their_posts(workspace, tmp_path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    save_photo(images / "P1_a.jpg", seed=1, size=(320, 240))
    save_photo(images / "P2_a.jpg", seed=2, size=(320, 240))
    release = tmp_path / "train.txt"
    release.write_text("WID:P1\n北\tB-LOC\n京\tI-LOC\n\nWID:P2\n好\tO\n", encoding="utf-8")
    result = run_cli("-w", workspace.root, "import", release, "--images", images)
    assert result.exit_code == 0, result.output
    assert statuses(workspace) == {"P1_a.jpg": ("kept", None), "P2_a.jpg": ("kept", None)}
    assert workspace.store.scalar("SELECT COUNT(*) FROM images WHERE phash IS NOT NULL") == 2  # hashed: deduped too

    config = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(re.sub(r"(?m)^min_side = 100$", "min_side = 300", config), encoding="utf-8")
    assert run_cli("-w", workspace.root, "images", "--recheck").exit_code == 0
    assert statuses(workspace) == {"P1_a.jpg": ("dropped", "too_small"), "P2_a.jpg": ("dropped", "too_small")}
    posts = {row[0]: row[1] for row in workspace.store.query("SELECT post_id, status FROM posts")}
    assert posts == {"P1": "gold", "P2": "gold"}  # a release's posts keep their status

    workspace.config_path.write_text(config, encoding="utf-8")
    assert run_cli("-w", workspace.root, "images", "--recheck").exit_code == 0
    assert statuses(workspace) == {"P1_a.jpg": ("kept", None), "P2_a.jpg": ("kept", None)}
