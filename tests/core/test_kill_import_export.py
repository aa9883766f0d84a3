"""SIGKILL `import --images` and `export` at several instants, re-run, and check the workspace is whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cmner_build.export_record import MARKER_NAME, read_marker
from cmner_build.safety import stage_lock
from cmner_build.workspace import Workspace

from tests.clean_helpers import save_photo
from tests.kill_helpers import assert_ok, cli, exported_splits, integrity_ok, rows

TOPICS = ["体育", "旅游", "科技"]
POSTS = 12


def make_release(tmp_path: Path) -> tuple[Path, Path]:
    """A CMNER-format train file of POSTS posts and an image folder (the first two posts have two images)."""
    blocks = []
    images = tmp_path / "release-images"
    images.mkdir()
    for i in range(POSTS):
        text = f"第{i}条张{i}在北京#{TOPICS[i % 3]}#"
        tags = ["O"] * len(text)
        city = text.index("北京")
        tags[city], tags[city + 1] = "B-LOC", "I-LOC"
        blocks.append("\n".join([f"WID:P{i:03d}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]))
        for k in range(2 if i < 2 else 1):
            save_photo(images / f"P{i:03d}_{k}.jpg", seed=100 * i + k, size=(240, 180))
    train = tmp_path / "train.txt"
    train.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return train, images


def image_files_are_complete(root: Path, source: Path) -> None:
    """Every file under a final name in images/ is a whole copy of its source (temporary names start with '.')."""
    for path in (root / "images").iterdir():
        if not path.name.startswith("."):
            assert path.read_bytes() == (source / path.name).read_bytes(), f"{path.name} is not a whole copy"


def test_import_with_images_killed_anywhere_then_rerun_is_whole(tmp_path):
    train, images = make_release(tmp_path)
    root = tmp_path / "ws"
    assert_ok(cli("init", root))
    image_count = len(list(images.iterdir()))
    # After the 3rd copy; inside the 5th atomic copy (written, not renamed); inside the images check.
    for kill_at in ("import.image_copied:3", "atomic_write.before_rename:5", "images.update:2"):
        cli("-w", root, "import", train, "--images", images, kill_at=kill_at)
        integrity_ok(root / "corpus.db")
        assert rows(root / "corpus.db", "SELECT COUNT(*) FROM posts")[0][0] in (0, POSTS)  # all or nothing
        assert rows(root / "corpus.db", "SELECT COUNT(*) FROM images WHERE status = 'kept'")[0][0] == 0
        image_files_are_complete(root, images)
    result = cli("-w", root, "import", train, "--images", images)
    assert_ok(result)
    integrity_ok(root / "corpus.db")
    assert rows(root / "corpus.db", "SELECT COUNT(*) FROM posts WHERE status = 'gold'")[0][0] == POSTS
    stored = rows(root / "corpus.db", "SELECT file_name, status FROM images ORDER BY file_name")
    assert stored == [(path.name, "kept") for path in sorted(images.iterdir())]  # nothing lost, nothing twice
    assert len(stored) == image_count
    image_files_are_complete(root, images)
    assert sorted(path.name for path in (root / "images").iterdir()) == [name for name, _ in stored]  # no leftovers


def test_a_truncated_copy_left_under_the_final_name_is_replaced_not_adopted(tmp_path):
    train, images = make_release(tmp_path)
    root = tmp_path / "ws"
    assert_ok(cli("init", root))
    whole = (images / "P003_0.jpg").read_bytes()
    (root / "images" / "P003_0.jpg").write_bytes(whole[: len(whole) // 2])  # what a killed plain copy leaves
    assert_ok(cli("-w", root, "import", train, "--images", images))
    assert (root / "images" / "P003_0.jpg").read_bytes() == whole
    assert rows(root / "corpus.db", "SELECT status FROM images WHERE file_name = 'P003_0.jpg'") == [("kept",)]


@pytest.fixture(scope="module")
def _exported_template(tmp_path_factory):
    top = tmp_path_factory.mktemp("exported")
    train, images = make_release(top)
    root = top / "ws"
    assert_ok(cli("-w", root, "import", train, "--images", images))
    assert_ok(cli("-w", root, "export", "--seed", "1"))
    return root


@pytest.fixture
def exported_workspace(_exported_template, tmp_path):
    """A workspace holding the release, exported once with seed 1 (a fresh copy per test)."""
    root = tmp_path / "ws"
    shutil.copytree(_exported_template, root)
    return root, root / "exports" / "cmner"


def assert_store_and_files_agree(root: Path, out: Path) -> None:
    workspace = Workspace(root)  # opening the store settles what a killed export left
    try:
        stored = {row["post_id"]: row["split"] for row in workspace.store.query(
            "SELECT post_id, split FROM posts WHERE status = 'gold'")}
    finally:
        workspace.close()
    assert exported_splits(out) == stored
    assert len(stored) == POSTS
    exported_images = sorted(path.name for path in (out / "images").iterdir())
    kept = [row[0] for row in rows(root / "corpus.db", "SELECT file_name FROM images WHERE status = 'kept' ORDER BY file_name")]
    assert exported_images == kept
    for name in exported_images:
        assert (out / "images" / name).read_bytes() == (root / "images" / name).read_bytes()
    integrity_ok(root / "corpus.db")


@pytest.mark.parametrize(
    "kill_at, expected_seed",
    [
        ("export.split_file:2", "1"),  # mid-release: the old folder and the old splits stay
        ("export.image:3", "1"),
        ("export.before_swap:1", "1"),  # pending splits recorded, folder not swapped: forgotten
        ("staged_folder.swap:1", "1"),  # between the two renames: the old folder comes back
        ("export.after_swap:1", "7"),  # new folder in place, splits not yet recorded: recorded on open
    ],
)
def test_export_killed_anywhere_leaves_old_or_new_and_the_store_agrees(exported_workspace, kill_at, expected_seed):
    root, out = exported_workspace
    before = exported_splits(out)
    cli("-w", root, "export", "--seed", "7", kill_at=kill_at)
    assert_store_and_files_agree(root, out)
    assert str(read_marker(out)["seed"]) == expected_seed
    if expected_seed == "1":
        assert exported_splits(out) == before
    assert_ok(cli("-w", root, "export", "--seed", "7"))
    assert_store_and_files_agree(root, out)
    assert str(read_marker(out)["seed"]) == "7"
    # What the kill left beside the folder (a staging or previous folder) is gone after the re-run.
    assert not list(out.parent.glob(".cmner.*"))
    events = rows(root / "corpus.db", "SELECT data FROM events WHERE stage = 'export' AND kind = 'splits'")
    assert [json.loads(data)["seed"] for (data,) in events][-1] == 7


def test_a_second_export_at_the_same_time_is_refused_and_changes_nothing(exported_workspace):
    root, out = exported_workspace
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    with stage_lock(root, "export"):
        result = cli("-w", root, "export", "--seed", "7")
    assert result.returncode == 2
    assert "another `export` is running in this workspace" in result.stderr
    assert "Traceback" not in result.stderr
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before
    assert_store_and_files_agree(root, out)


def test_export_refuses_to_replace_a_folder_it_did_not_write(exported_workspace, tmp_path):
    root, _ = exported_workspace
    mine = tmp_path / "my-folder"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious", encoding="utf-8")
    result = cli("-w", root, "export", "--out", mine)
    assert result.returncode == 2
    assert "holds files an export does not write (e.g. 'thesis.tex')" in result.stderr
    assert sorted(path.name for path in mine.iterdir()) == ["thesis.tex"]
    # A folder written by an export (its marker, or only export files) is replaced whole.
    assert (root / "exports" / "cmner" / MARKER_NAME).is_file()
