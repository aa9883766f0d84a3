"""Hostile export zips for `annotate pull --from-export` (and `adjudicate pull --from-export`), through
the CLI: traversal and odd member names, two files for one user, members that unpack past the limits
(a zip bomb, a header that lies), and empty annotation stages. No traceback, nothing stored, nothing
written outside the workspace, the bad member named with its reason."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from cmner_build.workspace import Workspace, init_workspace

from tests.doccano_support import add_ready_posts
from tests.helpers import run_cli

POSTS = {"P1": "李华在上海。", "P2": "王芳去北京。"}


def line(post_id: str, text: str) -> str:
    return json.dumps({"id": 1, "text": text, "label": [], "Comments": [], "post_id": post_id}, ensure_ascii=False)


GOOD = "\n".join(line(post_id, text) for post_id, text in POSTS.items()) + "\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace, _ = init_workspace(tmp_path / "ws")
    add_ready_posts(workspace.store, POSTS)
    workspace.close()
    (tmp_path / "sentinel").mkdir()
    return workspace.root


def make_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data if isinstance(data, bytes) else data.encode("utf-8"),
                             compress_type=zipfile.ZIP_DEFLATED)
    return path


def nothing_stored(root: Path) -> bool:
    workspace = Workspace(root)
    try:
        store = workspace.store
        has_batches = store.scalar("SELECT name FROM sqlite_master WHERE name = 'batches'")
        return not has_batches or not store.scalar("SELECT COUNT(*) FROM batches")
    finally:
        workspace.close()


@pytest.mark.parametrize("members, message", [
    ({"../sentinel/ann_a.jsonl": GOOD, "ann_b.jsonl": GOOD}, "member '../sentinel/ann_a.jsonl' has a part '..'"),
    ({"/abs/ann_a.jsonl": GOOD}, "member '/abs/ann_a.jsonl' is an absolute path"),
    ({"x/ann_a.jsonl": GOOD, "y/ann_a.jsonl": GOOD}, "two members for user 'ann_a' ('x/ann_a.jsonl' and 'y/ann_a.jsonl')"),
    ({"ann\nb.jsonl": GOOD}, "contains the control or invisible character U+000A"),
    ({"ann_a .jsonl": GOOD}, "user name 'ann_a ' starts or ends with white space"),
])
def test_bad_member_names_are_refused_and_nothing_is_stored(root: Path, tmp_path: Path, members: dict,
                                                             message: str) -> None:
    archive = make_zip(tmp_path / "handed-over.zip", members)
    result = run_cli("-w", root, "annotate", "pull", "--from-export", archive, "--batch", "pilot")
    assert result.exit_code == 2 and message in result.error, result.error
    assert "handed-over.zip" in result.error
    assert nothing_stored(root)
    assert not any((tmp_path / "sentinel").iterdir())


def set_limits(root: Path, member_mb: int, total_mb: int) -> None:
    config = root / "cmner.toml"
    text = config.read_text(encoding="utf-8")
    assert "export_member_mb = 256" in text and "export_total_mb = 1024" in text  # the written defaults
    text = text.replace("export_member_mb = 256", f"export_member_mb = {member_mb}")
    config.write_text(text.replace("export_total_mb = 1024", f"export_total_mb = {total_mb}"), encoding="utf-8")


def test_a_zip_bomb_member_is_refused_by_its_declared_size(root: Path, tmp_path: Path) -> None:
    set_limits(root, 1, 4)
    bomb = GOOD + " " * (3 * 1024 * 1024)  # 3 MiB of blanks: a few KB compressed
    archive = make_zip(tmp_path / "bomb.zip", {"ann_a.jsonl": GOOD, "ann_b.jsonl": bomb})
    assert archive.stat().st_size < 64 * 1024
    result = run_cli("-w", root, "annotate", "pull", "--from-export", archive, "--batch", "pilot")
    assert result.exit_code == 2
    assert "bomb.zip!ann_b.jsonl" in result.error and "over the member limit of 1 MiB" in result.error
    assert "export_member_mb" in result.error
    assert nothing_stored(root)


def test_the_total_limit_counts_every_member(root: Path, tmp_path: Path) -> None:
    set_limits(root, 1, 1)
    half = GOOD + " " * (600 * 1024)
    archive = make_zip(tmp_path / "two.zip", {"ann_a.jsonl": half, "ann_b.jsonl": half})
    result = run_cli("-w", root, "annotate", "pull", "--from-export", archive, "--batch", "pilot")
    assert result.exit_code == 2 and "total limit of 1 MiB" in result.error
    assert nothing_stored(root)


def lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the member's uncompressed size in its local header and in the central directory."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    # (signature, offset of the uncompressed size, of the name length, of the name) in each header kind
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        offset = data.find(signature)
        while offset != -1:
            length = struct.unpack_from("<H", data, offset + length_at)[0]
            if data[offset + name_at: offset + name_at + length] == name:
                struct.pack_into("<I", data, offset + size_at, declared)
            offset = data.find(signature, offset + 4)
    path.write_bytes(bytes(data))


def test_a_member_whose_header_lies_about_its_size_is_refused(root: Path, tmp_path: Path) -> None:
    set_limits(root, 1, 4)
    archive = make_zip(tmp_path / "liar.zip", {"ann_a.jsonl": GOOD, "ann_b.jsonl": GOOD + " " * (2 * 1024 * 1024)})
    lie_about_size(archive, "ann_b.jsonl", 100)
    result = run_cli("-w", root, "annotate", "pull", "--from-export", archive, "--batch", "pilot")
    assert result.exit_code == 2 and "liar.zip!ann_b.jsonl" in result.error
    assert nothing_stored(root)


def test_a_good_zip_is_still_pulled(root: Path, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "good.zip", {"ann_a.jsonl": GOOD, "ann_b.jsonl": GOOD, "admin.jsonl": ""})
    result = run_cli("-w", root, "annotate", "pull", "--from-export", archive, "--batch", "pilot")
    assert result.exit_code == 0, (result.output, result.error)
    assert not nothing_stored(root)


def test_adjudicator_export_with_a_bad_member_is_refused(root: Path, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "judge.zip", {"a/judge.jsonl": GOOD, "b/judge.jsonl": GOOD})
    result = run_cli("-w", root, "adjudicate", "pull", "--from-export", archive)
    assert result.exit_code == 2 and "two members for user 'judge'" in result.error


@pytest.mark.parametrize("command", [("agreement",), ("agreement", "--vs-gold"), ("adjudicate",)])
def test_nothing_to_measure_or_adjudicate_is_not_a_success(root: Path, command: tuple) -> None:
    result = run_cli("-w", root, *command)
    assert result.exit_code == 2 and result.error and "no " in result.error
