"""The README's Doccano commands, run as written (relative workspace `corpus`, then from inside it),
against the real server they start: the server finds its settings, keeps its upload files under
`corpus/doccano/`, and its process holds none of our secrets."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from cmner_build.annotate.doccano.server import UPLOAD_TMP_NAME, backend_dir, free_port, read_record
from cmner_build.annotate.users import read_passwords
from cmner_build.model import Span
from cmner_build.workspace import Workspace, init_workspace

from tests.doccano_support import add_ready_posts, annotate_as, doccano_venv
from tests.helpers import run_cli

pytestmark = [pytest.mark.doccano, pytest.mark.slow]
README = Path(__file__).resolve().parents[3] / "README.md"
POSTS = {f"P{n:02d}": f"第{n}条：李华今天在上海看比赛。" for n in range(12)}


def readme_doccano_block() -> list[str]:
    """The shell lines of the README's "Annotate in Doccano" block, comments removed."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### 3. Annotate in Doccano", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def server_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_readme_doccano_commands_with_a_relative_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = doccano_venv()
    uploads_in_venv = backend_dir(venv) / UPLOAD_TMP_NAME
    before = set(os.listdir(uploads_in_venv)) if uploads_in_venv.is_dir() else set()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEIBO_COOKIE", "SUB=secret-cookie-for-the-test")
    workspace, _ = init_workspace(Path("corpus"))
    port = free_port()
    config = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(config.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}"),
                                     encoding="utf-8")
    add_ready_posts(workspace.store, POSTS)
    workspace.close()

    lines = readme_doccano_block()
    assert lines[0].startswith("export DOCCANO_PASSWORD=") and lines[1] == "cmner-build -w corpus doccano serve"
    monkeypatch.setenv("DOCCANO_PASSWORD", "Readme-test-Passw0rd")
    expected_codes = {"serve": 0, "add": 0, "--pilot": 0, "pull": 0, "--round": 0, "--batch-size": 0, "status": 0}
    try:
        for line in lines[1:]:
            args = shlex.split(line)
            assert args[:3] == ["cmner-build", "-w", "corpus"], line
            if args[3:5] == ["agreement", "--round"]:  # the annotators' work happens between pull and agreement
                annotate_pilot(tmp_path / "corpus")
                pulled = run_cli(*args[1:3], "annotate", "pull")
                assert pulled.exit_code == 0, pulled.output
            result = run_cli(*args[1:])
            key = next(key for key in expected_codes if key in args)
            assert result.exit_code == expected_codes[key], (line, result.output, result.error)
            if key == "serve":
                record = read_record(Path("corpus/doccano"))
                environ = server_environ(record.pid)
                assert "WEIBO_COOKIE" not in environ and "DOCCANO_PASSWORD" not in environ
                assert environ["TMPDIR"].startswith(str((tmp_path / "corpus" / "doccano").resolve()))
        assert "PASS" in run_cli("-w", "corpus", "agreement", "--round", "pilot").output
        # the pushed JSONL went through filepond's temporary folder inside the workspace, not the venv
        assert (tmp_path / "corpus" / "doccano" / UPLOAD_TMP_NAME).is_dir()
        after = set(os.listdir(uploads_in_venv)) if uploads_in_venv.is_dir() else set()
        assert after <= before
    finally:
        stopped = run_cli("-w", "corpus", "doccano", "stop")
    assert stopped.exit_code == 0 and "stopped the Doccano server" in stopped.output

    # the same from inside the workspace folder (the default workspace is the current folder)
    monkeypatch.chdir(tmp_path / "corpus")
    again = run_cli("doccano", "serve")
    try:
        assert again.exit_code == 0, again.output + str(again.error)
        assert f"http://127.0.0.1:{port}" in again.output
    finally:
        assert run_cli("doccano", "stop").exit_code == 0


def annotate_pilot(root: Path) -> None:
    """Every annotator of the pilot marks the same entity in every post and confirms it (as in the UI)."""
    workspace = Workspace(root)
    try:
        project_id = workspace.store.scalar("SELECT project_id FROM batches WHERE batch_id = 'pilot'")
        url = f"http://127.0.0.1:{read_record(root / 'doccano').port}"
    finally:
        workspace.close()
    for username, password in read_passwords(root / "annotator-passwords.tsv").items():
        spans = {post_id: [Span(text.index("上海"), text.index("上海") + 2, "LOC")] for post_id, text in POSTS.items()}
        annotate_as(url, username, password, project_id, spans, confirm=POSTS)
