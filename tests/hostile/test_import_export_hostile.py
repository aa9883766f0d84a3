"""Hostile release files and image folders driven through `import`, `images` and `export` by the CLI.

For each: no traceback, nothing written outside the workspace (a sentinel folder beside it stays as it
was), and every bad item is named with its reason.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.clean.test_image_check import cut_and_reterminate, png_with_header_size
from tests.clean_helpers import photo_like
from tests.kill_helpers import assert_ok, cli, exported_splits, integrity_ok, rows


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path under root with its bytes (links by their target), for "nothing changed" checks."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "dir"
    return found


@pytest.fixture
def arena(tmp_path: Path) -> dict[str, Path]:
    """A workspace path, a sentinel folder beside it, and a folder for the hostile inputs."""
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "secret.txt").write_text("do not copy me", encoding="utf-8")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    return {"root": tmp_path / "ws", "sentinel": sentinel, "inputs": inputs, "top": tmp_path}


def outside_snapshot(arena: dict[str, Path]) -> dict[str, bytes | str]:
    """Everything beside the workspace (the inputs and the sentinel)."""
    return {name: value for name, value in tree(arena["top"]).items() if not name.startswith("ws")}


BAD_RELEASES = {
    "traversal": ("WID:..%2F..%2Fsentinel\n好\tO\n\nWID:../../sentinel/pwn\n好\tO\n", 1, "is not valid"),
    "slash": ("WID:A\n好\tO\n\nWID:P1/x\n好\tO\n", 4, "post id 'P1/x' is not valid"),
    "nul_id": ("WID:P1\x00\n好\tO\n", 1, "post id 'P1\\x00' is not valid"),
    "newline_in_id": ("WID:P1\rP2\n好\tO\n", 1, "post id 'P1\\rP2' is not valid"),
    "nul_text": ("WID:P1\n好\tO\n\x00\tO\n", 3, "control character U+0000"),
    "escape_text": ("WID:P1\n\x1b\tO\n", 2, "control character U+001B"),
    "markup_id": ("WID:[/red]\n好\tO\n", 1, "post id '[/red]' is not valid"),
}


@pytest.mark.parametrize("case", sorted(BAD_RELEASES))
def test_hostile_release_files_are_refused_with_file_line_and_reason(arena, case):
    body, line, reason = BAD_RELEASES[case]
    path = arena["inputs"] / "train.txt"
    path.write_bytes(body.encode("utf-8"))
    before = outside_snapshot(arena)
    result = cli("-w", arena["root"], "import", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert f"train.txt:{line}:" in message and reason in message, result.stderr
    assert not arena["root"].exists()  # a refused import creates nothing
    assert outside_snapshot(arena) == before


def hostile_image_folder(folder: Path, sentinel: Path) -> dict[str, str]:
    """Images for posts P000..P005: file name -> the reason it must be refused or dropped for ('' = kept)."""
    folder.mkdir()
    good = io.BytesIO()
    photo_like(1, (320, 240)).save(good, "JPEG", quality=90)
    cut = io.BytesIO()
    photo_like(2, (320, 240)).save(cut, "JPEG", quality=90)
    files = {
        "P000_good.jpg": (good.getvalue(), ""),
        "P000_page.jpg": (b"<!DOCTYPE html><html><head><title>login</title></head></html>", "html_not_image"),
        "P001_empty.jpg": (b"", "empty_file"),
        "P001_bomb.png": (png_with_header_size(30_000, 30_000), "decompression_bomb"),
        "P002_cut.jpg": (cut_and_reterminate(cut.getvalue(), len(cut.getvalue()) // 2), "truncated"),
        "P003_ctrl\x01.jpg": (good.getvalue(), "control or invisible character"),
        "P-3_dash.jpg": (good.getvalue(), "post id 'P-3' in the file name is not valid"),
    }
    expected = {}
    for name, (content, reason) in files.items():
        (folder / name).write_bytes(content)
        expected[name] = reason
    (folder / "P004_link.jpg").symlink_to("/etc/hostname")
    expected["P004_link.jpg"] = "is a symbolic link"
    (folder / "P005_secret.jpg").symlink_to(sentinel / "secret.txt")
    expected["P005_secret.jpg"] = "is a symbolic link"
    (folder / "P005_folder.jpg").mkdir()
    expected["P005_folder.jpg"] = "is not a regular file"
    return expected


def test_hostile_image_folder_through_import_images_and_export(arena):
    release = arena["inputs"] / "train.txt"
    release.write_text("\n\n".join(f"WID:P00{i}\n北\tB-LOC\n京\tI-LOC" for i in range(6)) + "\n", encoding="utf-8")
    expected = hostile_image_folder(arena["inputs"] / "images", arena["sentinel"])
    before = outside_snapshot(arena)
    root = arena["root"]

    result = cli("-w", root, "import", release, "--images", arena["inputs"] / "images")
    assert_ok(result)
    message = " ".join(result.stderr.split())
    for name, reason in expected.items():
        if reason:
            shown = name.encode("unicode_escape").decode("ascii")  # names are printed as repr()
            assert shown in message or name in message, f"{name!r} not named in: {result.stderr}"
            assert reason in message, f"{name!r}: {reason!r} not in: {result.stderr}"
    integrity_ok(root / "corpus.db")
    stored = dict(rows(root / "corpus.db", "SELECT file_name, COALESCE(drop_reason, status) FROM images"))
    assert stored == {"P000_good.jpg": "kept", "P000_page.jpg": "html_not_image", "P001_empty.jpg": "empty_file",
                      "P001_bomb.png": "decompression_bomb", "P002_cut.jpg": "truncated"}
    assert sorted(path.name for path in (root / "images").iterdir()) == sorted(stored)  # no link copied, no target

    result = cli("-w", root, "images", "--report")
    assert_ok(result)
    report = (root / "exports" / "images_report.html").read_text(encoding="utf-8")
    for name, reason in stored.items():
        if reason != "kept":
            assert name in report and reason in report  # imported images appear in the report

    result = cli("-w", root, "export", "--seed", "3")
    assert_ok(result)
    out = root / "exports" / "cmner"
    assert sorted(path.name for path in (out / "images").iterdir()) == ["P000_good.jpg"]
    assert set(exported_splits(out)) == {f"P00{i}" for i in range(6)}
    assert outside_snapshot(arena) == before  # nothing written outside the workspace
    for path in root.rglob("*"):
        assert not path.is_symlink(), path
        if path.is_file():
            assert b"do not copy me" not in path.read_bytes(), path


def test_a_stored_post_id_that_would_break_the_release_format_is_left_out_and_named(arena):
    root = arena["root"]
    release = arena["inputs"] / "train.txt"
    release.write_text("WID:P1\n北\tB-LOC\n京\tI-LOC\n\nWID:P2\n好\tO\n", encoding="utf-8")
    assert_ok(cli("-w", root, "import", release))
    import sqlite3

    connection = sqlite3.connect(root / "corpus.db")  # what an older version could store from a crawl
    connection.execute("INSERT INTO posts (post_id, source, original_text, text, status, created_at, updated_at)"
                       " VALUES ('a\nb', 'crawl', '好', '好', 'gold', 'now', 'now')")
    connection.commit()
    connection.close()
    result = cli("-w", root, "export")
    assert_ok(result)
    assert "1 gold posts left out: their id cannot be written in a release (e.g. 'a\\nb')" in " ".join(result.stderr.split())
    out = root / "exports" / "cmner"
    assert set(exported_splits(out)) == {"P1", "P2"}  # and the files read back: no `WID:a` + `b` lines
    reimport = cli("-w", arena["top"] / "again", "import", *(out / f"{s}.txt" for s in ("train", "dev", "test")))
    assert_ok(reimport)
