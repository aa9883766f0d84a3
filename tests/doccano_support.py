"""A real Doccano 1.8.4 for the annotate tests: started from .venv-doccano (built by `make test`),
bound to 127.0.0.1 on a free port, Celery eager (no worker), stopped by pid.

The database is migrated once per session into a template; each test copies it and starts its own
gunicorn (about a second), so tests never see each other's projects or users.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pytest

from cmner_build.annotate.doccano.server import (
    ServerRecord, free_port, init_database, repo_venv_path, start_server, stop_server, venv_is_ready,
)
from cmner_build.model import Span
from cmner_build.store import Store

from .agreement_helpers import add_posts

ADMIN = "admin"
ADMIN_PASSWORD = "Adm1n-test-pass!"
PASSWORD_ENV = "CMNER_TEST_DOCCANO_PASSWORD"

_template_dir: Path | None = None


def doccano_venv() -> Path:
    venv = repo_venv_path()
    if venv is None or not venv_is_ready(venv):
        pytest.skip("the Doccano server venv .venv-doccano is absent: `make test` (or `make doccano-venv`) builds it")
    return venv


def template_dir(factory: pytest.TempPathFactory) -> Path:
    """A migrated Doccano database with roles and the admin, made once per test session."""
    global _template_dir
    if _template_dir is None:
        directory = factory.mktemp("doccano-template")
        init_database(doccano_venv(), directory, ADMIN, ADMIN_PASSWORD)
        _template_dir = directory
    return _template_dir


@dataclass
class LocalServer:
    venv: Path
    server_dir: Path
    record: ServerRecord

    @property
    def url(self) -> str:
        return self.record.url

    def stop(self) -> None:
        stop_server(self.server_dir)

    def restart(self) -> None:
        """Start again on the same port with the same database (after `stop`)."""
        self.record = start_server(self.venv, self.server_dir, port=self.record.port)


def start_test_server(server_dir: Path, factory: pytest.TempPathFactory) -> LocalServer:
    venv = doccano_venv()
    shutil.copytree(template_dir(factory), server_dir)
    return LocalServer(venv, server_dir, start_server(venv, server_dir, port=free_port()))


@pytest.fixture
def doccano(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A fresh server of one's own; the admin password is in $CMNER_TEST_DOCCANO_PASSWORD."""
    server = start_test_server(tmp_path / "doccano", tmp_path_factory)
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    try:
        yield server
    finally:
        server.stop()


def configure_workspace(root: Path, url: str, *, extra: str = "") -> None:
    """Point a workspace's cmner.toml at the test server and the test password variable."""
    config = root / "cmner.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('url = "http://127.0.0.1:8000"', f'url = "{url}"')
    text = text.replace('password_env = "DOCCANO_PASSWORD"', f'password_env = "{PASSWORD_ENV}"')
    config.write_text(text + extra, encoding="utf-8")


def add_ready_posts(store: Store, texts: dict[str, str], topic: str = "体育") -> None:
    """Posts as clean leaves them: status 'ready'."""
    add_posts(store, texts, status="ready", topic=topic)


def utf16_offset(text: str, index: int) -> int:
    """Independent of the adapter: JavaScript's string index of code point `index`."""
    return len(text[:index].encode("utf-16-le")) // 2


def annotate_as(url: str, username: str, password: str, project_id: int, spans_by_post: dict[str, Iterable[Span]],
                confirm: Iterable[str]) -> None:
    """Act as one annotator through doccano-client (the official client, not our adapter): add spans
    with the UTF-16 offsets the Doccano UI would send, and mark the given posts done."""
    from doccano_client import DoccanoClient

    client = DoccanoClient(url)
    client.login(username=username, password=password)
    examples = {example.meta["post_id"]: example for example in client.list_examples(project_id)}
    labels = {label.text: label.id for label in client.list_label_types(project_id, "span")}
    for post_id, spans in spans_by_post.items():
        example = examples[post_id]
        for span in spans:
            client.create_span(project_id, example.id, utf16_offset(example.text, span.start),
                               utf16_offset(example.text, span.end), labels[span.label])
    for post_id in confirm:
        client.update_example_state(project_id, examples[post_id].id)
    client.logout()
