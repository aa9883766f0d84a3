"""A local Doccano 1.8.4 server for labs without one: its own venv, SQLite in the workspace, 127.0.0.1.

Doccano 1.8.4 needs marshmallow<4, numpy<2 and Python <= 3.11, and pydantic 2, while doccano-client
(the tests' reference client) needs pydantic 1: the server therefore lives in its own virtual environment.
`doccano webserver` always binds 0.0.0.0, so gunicorn is started directly on 127.0.0.1. Celery runs
eagerly inside the web process (CELERY_TASK_ALWAYS_EAGER), so imports and exports need no worker and
there is exactly one process to stop: the gunicorn master, by the pid recorded in server.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from cmner_build.errors import CmnerError

DOCCANO_VERSION = "1.8.4"
# docs/doccano.md §1: environs breaks on marshmallow 4, pandas<2 breaks on numpy 2.
SERVER_REQUIREMENTS: tuple[str, ...] = (f"doccano=={DOCCANO_VERSION}", "marshmallow<4", "numpy<2")
VENV_ENV = "CMNER_DOCCANO_VENV"
INSTALLED_MARKER = ".installed"
SETTINGS_MODULE = "cmner_doccano_settings"
UPLOAD_TMP_NAME = "filepond-temp-uploads"
TMP_NAME = "tmp"
# The only variables of ours the server process inherits (locale and time zone); everything else it
# gets is set explicitly in server_environment, so secrets such as $WEIBO_COOKIE never reach it.
INHERITED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
# Eager Celery: the import/export task runs inside the request, results stay readable for /download.
SETTINGS_SOURCE = f"""\
# Written by cmner-build: Doccano {DOCCANO_VERSION} production settings with Celery run eagerly,
# so imports and exports need no worker process.
import os

from config.settings.production import *  # noqa: F401,F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_STORE_EAGER_RESULT = True
# Uploads wait here before import: in this server folder, not in the server venv's site-packages.
DJANGO_DRF_FILEPOND_UPLOAD_TMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{UPLOAD_TMP_NAME}")
DJANGO_DRF_FILEPOND_ALLOW_EXTERNAL_UPLOAD_DIR = True  # outside Doccano's own package folder, by design
FILE_UPLOAD_TEMP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{TMP_NAME}")
"""
RECORD_NAME = "server.json"
LOG_NAME = "server.log"


class DoccanoServerError(CmnerError):
    """The local Doccano server could not be installed, initialised, started or stopped."""


@dataclass
class ServerRecord:
    """What `serve` wrote to <server dir>/server.json, read by `stop`."""

    pid: int
    url: str
    host: str
    port: int
    venv: str
    started_at: float


# -- the server's virtual environment -------------------------------------------------------------


def repo_venv_path() -> Path | None:
    """`.venv-doccano` at the root of a source checkout (where `make test` builds it), if there is one."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists() and (root / "annotate").is_dir():
        return root / ".venv-doccano"
    return None


def user_cache_venv_path() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cmner-build" / f"doccano-{DOCCANO_VERSION}"


def default_venv_path(configured: str | None = None) -> Path:
    """Where the server venv lives: $CMNER_DOCCANO_VENV, else [doccano] server_venv, else the checkout's
    .venv-doccano when it is built, else a per-user cache folder (built once per machine)."""
    chosen = os.environ.get(VENV_ENV) or configured
    if chosen:
        return Path(chosen).expanduser()
    repo = repo_venv_path()
    if repo is not None and (repo / INSTALLED_MARKER).exists():
        return repo
    return user_cache_venv_path()


def venv_is_ready(venv: Path) -> bool:
    return (venv / INSTALLED_MARKER).exists() and (venv / "bin" / "gunicorn").exists()


def find_server_python(explicit: str | None = None) -> str:
    """A Python 3.8-3.11 interpreter for the server venv (doccano 1.8.4 has no wheels beyond 3.11)."""
    candidates = [explicit] if explicit else []
    if not explicit:
        if (3, 8) <= sys.version_info[:2] <= (3, 11):
            candidates.append(sys.executable)
        candidates += ["python3.11", "python3.10", "python3.9"]
    for candidate in candidates:
        path = shutil.which(candidate) if candidate and os.sep not in candidate else candidate
        if path and _python_version_ok(path):
            return path
    raise DoccanoServerError(
        "Doccano 1.8.4 needs Python 3.8-3.11 for its own venv and none was found "
        f"(tried {', '.join(c for c in candidates if c)}); install python3.11 or pass --python"
    )


def _python_version_ok(python: str) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0] * 100 + sys.version_info[1])"],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and 308 <= int(result.stdout.strip() or 0) <= 311


def ensure_server_venv(venv: Path, python: str | None = None, log: Callable[[str], None] = lambda _: None) -> Path:
    """Create the server venv with the pinned requirements unless it is already built. Idempotent."""
    if venv_is_ready(venv):
        return venv
    interpreter = find_server_python(python)
    log(f"building the Doccano {DOCCANO_VERSION} server venv in {venv} (once; a minute or two)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [interpreter, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *SERVER_REQUIREMENTS],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise DoccanoServerError(
                f"building the Doccano venv {venv} failed ({' '.join(step[:4])} ...): " + " | ".join(tail)
            )
    (venv / INSTALLED_MARKER).write_text(" ".join(SERVER_REQUIREMENTS) + "\n")
    return venv


def backend_dir(venv: Path) -> Path:
    """The installed doccano `backend` package folder (manage.py and config.wsgi live there)."""
    found = sorted(venv.glob("lib/python3.*/site-packages/backend/manage.py"))
    if not found:
        raise DoccanoServerError(f"{venv} holds no doccano installation; run `cmner-build doccano serve` to build it")
    return found[-1].parent


# -- the server's data folder ---------------------------------------------------------------------


def prepare_server_dir(server_dir: Path) -> None:
    """The settings module and a per-server secret key (never the hard-coded Doccano default)."""
    server_dir.mkdir(parents=True, exist_ok=True)
    for name in ("media", UPLOAD_TMP_NAME, TMP_NAME):
        (server_dir / name).mkdir(exist_ok=True)
    (server_dir / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
    key_path = server_dir / "secret_key"
    if not key_path.exists():
        _write_private(key_path, secrets.token_urlsafe(48))


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def server_environment(venv: Path, server_dir: Path, *, page_size: int = 1000) -> dict[str, str]:
    """The whole environment of the server's processes, built explicitly: paths are absolute (gunicorn
    changes its working folder), temporary files stay in the server folder, and nothing else of ours
    (cookies, passwords, tokens) is passed on."""
    server_dir = Path(server_dir).resolve()
    environment = {key: os.environ[key] for key in INHERITED_VARIABLES if key in os.environ}
    environment.update(
        PATH=f"{Path(venv).absolute() / 'bin'}{os.pathsep}{os.defpath}",
        HOME=str(server_dir),
        TMPDIR=str(server_dir / TMP_NAME),
        PYTHONPATH=str(server_dir),
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DATABASE_URL=f"sqlite:///{server_dir / 'db.sqlite3'}",
        MEDIA_ROOT=str(server_dir / "media"),
        STANDALONE="True",  # serves /media/ (uploaded images) without a separate web server
        DOCCANO_PAGE_SIZE=str(page_size),
        SECRET_KEY=(server_dir / "secret_key").read_text().strip(),
    )
    return environment


# One interpreter start for all three management commands (Django set-up costs seconds each).
_INIT_SCRIPT = """
import os, django
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
call_command("migrate", verbosity=0)
call_command("create_roles")
user = os.environ["CMNER_ADMIN_USER"]
if not get_user_model().objects.filter(username=user).exists():
    call_command("create_admin", "--noinput", username=user, password=os.environ["CMNER_ADMIN_PASSWORD"],
                 email=os.environ["CMNER_ADMIN_EMAIL"])
    print("created-admin")
"""


def init_database(venv: Path, server_dir: Path, admin_user: str, admin_password: str,
                  admin_email: str = "admin@example.com") -> bool:
    """Migrate the SQLite DB, create the roles and the admin (if missing). True when the admin was created.
    The password travels in the environment of the child, never on its command line."""
    server_dir = Path(server_dir).resolve()
    venv = Path(venv).absolute()
    prepare_server_dir(server_dir)
    environment = server_environment(venv, server_dir)
    environment.update(CMNER_ADMIN_USER=admin_user, CMNER_ADMIN_PASSWORD=admin_password, CMNER_ADMIN_EMAIL=admin_email)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _INIT_SCRIPT], cwd=backend_dir(venv), env=environment,
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise DoccanoServerError(f"initialising the Doccano database in {server_dir} failed: {tail}")
    return "created-admin" in result.stdout


def database_exists(server_dir: Path) -> bool:
    return (server_dir / "db.sqlite3").exists()


# -- starting and stopping ------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0


def start_server(venv: Path, server_dir: Path, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
                 ready_timeout: float = 60.0) -> ServerRecord:
    """Start gunicorn detached (its own session, so it outlives this process); wait until it answers.
    Works from a relative workspace: every path handed to the server is made absolute first."""
    server_dir = Path(server_dir).resolve()
    venv = Path(venv).absolute()
    existing = read_record(server_dir)
    if existing is not None and process_alive(existing.pid):
        raise DoccanoServerError(
            f"a Doccano server started from {server_dir} is already running (pid {existing.pid}, {existing.url}); "
            "stop it with `cmner-build doccano stop`"
        )
    if port_in_use(host, port):
        raise DoccanoServerError(f"port {port} on {host} is already in use; choose another with --port")
    prepare_server_dir(server_dir)
    log_path = server_dir / LOG_NAME
    command = [
        str(venv / "bin" / "gunicorn"), "--chdir", str(backend_dir(venv)), "--bind", f"{host}:{port}",
        "--workers", str(workers), "--timeout", "900", "--graceful-timeout", "10",
        "config.wsgi:application",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=server_environment(venv, server_dir), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=server_dir,
        )
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    record = ServerRecord(process.pid, url, host, port, str(venv), time.time())
    _write_record(server_dir, record)
    try:
        wait_until_ready(url, process, ready_timeout, log_path)
    except DoccanoServerError:
        _terminate(process.pid)
        (server_dir / RECORD_NAME).unlink(missing_ok=True)
        raise
    return record


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float, log_path: Path) -> None:
    """Poll /v1/me (403 when up and unauthenticated) rather than /v1/health/ (slow without a worker)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DoccanoServerError(f"the Doccano server exited at start (code {process.returncode}): {_log_tail(log_path)}")
        try:
            if httpx.get(f"{url}/v1/me", timeout=2.0).status_code in (200, 401, 403):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise DoccanoServerError(f"the Doccano server did not answer at {url} within {timeout:.0f} s: {_log_tail(log_path)}")


def _log_tail(log_path: Path, lines: int = 4) -> str:
    try:
        return " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no log)"


def _write_record(server_dir: Path, record: ServerRecord) -> None:
    (server_dir / RECORD_NAME).write_text(json.dumps(asdict(record), indent=2) + "\n")


def read_record(server_dir: Path) -> ServerRecord | None:
    path = server_dir / RECORD_NAME
    if not path.exists():
        return None
    try:
        return ServerRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise DoccanoServerError(f"{path}: unreadable ({error}); remove it if no server runs") from None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    status_path = Path(f"/proc/{pid}/status")
    if status_path.exists():
        try:
            return "\nState:\tZ" not in status_path.read_text()
        except OSError:
            return False
    return True


def _is_our_gunicorn(pid: int, venv: str) -> bool:
    """Guard against a recycled pid: on Linux the command line must be this venv's gunicorn."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # not Linux: trust the record
    try:
        arguments = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"gunicorn" in argument for argument in arguments) and any(venv.encode() in a for a in arguments)


def _terminate(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it is still there after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)  # reap when it is our child (tests)
            if finished == pid:
                return
        except ChildProcessError:
            pass
        if not process_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def stop_server(server_dir: Path) -> ServerRecord | None:
    """Stop the server recorded in server_dir by its pid. Returns the record, or None when none was running."""
    record = read_record(server_dir)
    if record is None:
        return None
    if process_alive(record.pid) and _is_our_gunicorn(record.pid, record.venv):
        _terminate(record.pid)
    (server_dir / RECORD_NAME).unlink(missing_ok=True)
    return record


def generate_password() -> str:
    """A password Django's validators accept: long, not numeric, not a common word, not like a username."""
    return "Cm-" + secrets.token_urlsafe(15)
