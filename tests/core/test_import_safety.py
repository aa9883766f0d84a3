"""`import` refuses bad ids and text before creating anything, and one import runs per workspace."""

from __future__ import annotations

import pytest

from cmner_build.safety import stage_lock

from tests.helpers import run_cli
from tests.kill_helpers import cli


def release(tmp_path, body: str, name: str = "train.txt"):
    path = tmp_path / name
    path.write_bytes(body.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    "body, line, reason",
    [
        ("WID:A\n好\tO\n\nWID:B\x00C\n好\tO\n", 4, "post id 'B\\x00C' is not valid"),
        ("WID:../../outside/pwn\n好\tO\n", 1, "post id '../../outside/pwn' is not valid"),
        ("WID:a/b\n好\tO\n", 1, "post id 'a/b' is not valid"),
        ("WID:a\rb\n好\tO\n", 1, "post id 'a\\rb' is not valid"),
        ("WID:A\n好\tO\n\x00\tO\n", 3, "contains the control character U+0000"),
    ],
)
def test_bad_ids_and_nul_in_text_are_refused_with_file_and_line_and_nothing_is_created(tmp_path, body, line, reason):
    path = release(tmp_path, body)
    root = tmp_path / "new-ws"
    result = run_cli("-w", root, "import", path)
    assert result.exit_code == 2
    assert f"train.txt:{line}: " in result.error and reason in result.error
    assert not root.exists()  # inputs are checked before the workspace is created
    assert run_cli("-w", root, "import", release(tmp_path, "WID:A\n好\tO\n")).exit_code == 0
    assert (root / "corpus.db").is_file()  # a good import still creates it, as documented


def test_a_second_import_at_the_same_time_is_refused_cleanly(tmp_path):
    root = tmp_path / "ws"
    run_cli("init", root)
    path = release(tmp_path, "WID:A\n好\tO\n")
    with stage_lock(root, "import"):
        result = cli("-w", root, "import", path)
    assert result.returncode == 2
    assert "another `import` is running in this workspace" in result.stderr
    assert "Traceback" not in result.stderr and "IntegrityError" not in result.stderr
    assert run_cli("-w", root, "import", path).exit_code == 0


def test_absurd_and_garbled_ratios_are_explained(tmp_path):
    root = tmp_path / "ws"
    assert run_cli("-w", root, "import", release(tmp_path, "WID:A\n好\tO\n\nWID:B\n坏\tO\n")).exit_code == 0
    result = cli("-w", root, "export", "--split", "1e308:1e308:1e308")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "parts must be finite, not negative and at most" in result.stderr
    result = cli("-w", root, "export", "--split", "a:b:c")
    assert result.returncode == 2
    assert "split ratio 'a:b:c' must be three numbers" in result.stderr  # shown as typed, no emoji
