"""`cmner-build doccano serve` / `stop` and `doccano install`: a real server, found and stopped by pid."""

from __future__ import annotations

import json

import httpx
import pytest

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.server import free_port, process_alive
from cmner_build.workspace import Workspace

from tests.doccano_support import doccano_venv
from tests.helpers import run_cli

pytestmark = [pytest.mark.doccano, pytest.mark.slow]


def test_serve_binds_localhost_shows_a_generated_password_once_and_stop_ends_it(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = doccano_venv()
    monkeypatch.delenv("DOCCANO_PASSWORD", raising=False)
    port = free_port()
    result = run_cli("-w", workspace.root, "doccano", "serve", "--port", port, "--venv", venv)
    try:
        assert result.exit_code == 0, result.output
        record = json.loads((workspace.root / "doccano" / "server.json").read_text())
        assert record["url"] == f"http://127.0.0.1:{port}" and record["host"] == "127.0.0.1"
        assert process_alive(record["pid"])
        password = result.output.split("password (shown once): ")[1].split()[0]
        with DoccanoAPI.login(record["url"], "admin", password) as api:
            assert api.me()["is_superuser"] is True
        assert password not in (workspace.root / "doccano" / "server.log").read_text()
        assert password.encode() not in workspace.db_path.read_bytes()
        twice = run_cli("-w", workspace.root, "doccano", "serve", "--port", free_port(), "--venv", venv)
        assert twice.exit_code == 2 and f"already running (pid {record['pid']}" in twice.error
    finally:
        stopped = run_cli("-w", workspace.root, "doccano", "stop")
    assert stopped.exit_code == 0 and f"pid {record['pid']}" in stopped.output
    assert not process_alive(record["pid"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{record['url']}/v1/me", timeout=2)
    assert "no Doccano server" in run_cli("-w", workspace.root, "doccano", "stop").output

    # Second start: the database exists, the admin is kept, no password is generated or shown.
    monkeypatch.setenv("DOCCANO_PASSWORD", "ignored-now")
    again = run_cli("-w", workspace.root, "doccano", "serve", "--port", port, "--venv", venv)
    try:
        assert again.exit_code == 0 and "shown once" not in again.output
        with DoccanoAPI.login(f"http://127.0.0.1:{port}", "admin", password):
            pass
    finally:
        run_cli("-w", workspace.root, "doccano", "stop")


def test_install_reports_a_ready_venv() -> None:
    venv = doccano_venv()
    result = run_cli("doccano", "install", "--venv", venv)
    assert result.exit_code == 0 and "is ready" in result.output
