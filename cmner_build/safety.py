"""The one place that decides what outside identifiers may be, and how files reach the workspace.

Everything from outside (Weibo responses, CDN bodies, release files, image folders, annotators' zips)
is hostile until checked. Stages call these helpers instead of building paths or checking names
themselves:

- `check_post_id` / `is_valid_post_id`: a post id becomes part of file names (`{post_id}_{n}.jpg`) and
  of line-based release files (`WID:<id>`), so it is ASCII letters and digits only.
- `check_name`: user names, topic names, file and zip member names: printable, no path separators,
  no control characters, bounded length.
- `path_inside`: every path built from outside data; proves the result stays inside a root folder.
- `regular_file`: a file read from outside must be a regular file, not a link or a device.
- `atomic_write_bytes` / `atomic_write_text` / `staged_folder`: write under a temporary name and move
  into place, so a kill at any instant leaves the old output or the new, never a mix.
- `stage_lock` / `holds_stage_lock`: one writing run of a stage per workspace at a time.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .errors import CmnerError, WorkspaceError

# ASCII letters and digits: Weibo bids (base62), mids (digits), Twitter-2015 image ids (digits).
POST_ID_PATTERN = re.compile(r"[0-9A-Za-z]{1,64}")
MAX_NAME_LENGTH = 128
F = TypeVar("F", bound=Callable[..., Any])


class UnsafeInputError(CmnerError):
    """An identifier, name or path from outside is not what it may be."""


def is_valid_post_id(value: object) -> bool:
    return isinstance(value, str) and POST_ID_PATTERN.fullmatch(value) is not None


def check_post_id(value: object, *, where: str = "post id") -> str:
    """The post id itself, or UnsafeInputError naming what is wrong with it."""
    if is_valid_post_id(value):
        return value  # type: ignore[return-value]
    raise UnsafeInputError(f"{where}: {value!r} is not a valid post id (1-64 ASCII letters and digits)")


def name_problem(value: object) -> str | None:
    """Why `value` cannot be a name (user, topic, file, zip member), or None when it can."""
    if not isinstance(value, str):
        return "is not text"
    if not value.strip():
        return "is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if value != value.strip():
        return "starts or ends with white space"
    if value in (".", "..") or value.startswith("."):
        return "starts with a dot"
    for char in value:
        if char in "/\\":
            return "contains a path separator"
        category = unicodedata.category(char)
        if category.startswith("C") or category in ("Zl", "Zp"):
            return f"contains the control or invisible character U+{ord(char):04X}"
    return None


def check_name(value: object, *, what: str = "name") -> str:
    problem = name_problem(value)
    if problem is not None:
        raise UnsafeInputError(f"{what} {value!r} {problem}")
    return value  # type: ignore[return-value]


def path_inside(root: Path, *parts: str) -> Path:
    """root/parts..., proven to stay inside root after resolving `..` and links.

    Each part must be a plain name (see `check_name`); the resolved result must lie under the resolved
    root. Raises UnsafeInputError otherwise.
    """
    for part in parts:
        check_name(part, what="path component")
    base = Path(root).resolve()
    candidate = base.joinpath(*parts)
    resolved = candidate.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafeInputError(f"{candidate} leaves {base}")
    return candidate


def regular_file(path: Path) -> Path:
    """`path` itself when it is a regular file and not a link; UnsafeInputError otherwise."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise UnsafeInputError(f"{path}: cannot be read ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeInputError(f"{path}: is a symbolic link; only regular files are read")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError(f"{path}: is not a regular file")
    return Path(path)


def _temporary_sibling(path: Path, suffix: str = "") -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{suffix}.tmp", dir=path.parent)
    os.close(handle)
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary sibling and an atomic rename (fsync'd)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(path)
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        fault_point("atomic_write.before_rename")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, newline: str | None = None) -> None:
    data = text if newline is None else text.replace("\n", newline)
    atomic_write_bytes(path, data.encode("utf-8"))


def recover_folder(target: Path) -> None:
    """Finish or undo a folder swap that a kill interrupted (see `staged_folder`)."""
    target = Path(target)
    previous = target.with_name(f".{target.name}.previous")
    if previous.exists():
        if target.exists():
            shutil.rmtree(previous, ignore_errors=True)  # the new folder is in place: drop the old
        else:
            os.rename(previous, target)  # killed between the two renames: the old output comes back
    for leftover in target.parent.glob(f".{target.name}.staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it replaces `target` whole.

    A kill while writing leaves the old `target` untouched (the staging folder is removed by the next
    run); a kill during the swap leaves `.target.previous`, which `recover_folder` (called on entry)
    puts back. An exception inside the block removes the staging folder and keeps the old output.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(target)
    # os.mkdir, not mkdtemp: the folder gets the user's usual permissions (mkdtemp's are 0700).
    staging = target.with_name(f".{target.name}.staging-{uuid.uuid4().hex[:12]}")
    os.mkdir(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = target.with_name(f".{target.name}.previous")
    if target.exists():
        os.rename(target, previous)
    fault_point("staged_folder.swap")
    os.rename(staging, target)
    shutil.rmtree(previous, ignore_errors=True)


_HELD: dict[tuple[str, str], int] = {}  # (workspace, stage) -> how deep this process holds the lock


@contextmanager
def stage_lock(root: Path, stage: str) -> Iterator[None]:
    """One writing run of `stage` per workspace: an advisory lock the OS releases even on SIGKILL.

    Re-entrant within one process (a locked entry function may call another), refused across processes.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    check_name(stage, what="stage")
    key = (str(Path(root).resolve()), stage)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    path = Path(root) / f".{stage}.lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WorkspaceError(
                f"{root}: another `{stage}` is running in this workspace (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _HELD[key] = 1
        try:
            yield
        finally:
            _HELD.pop(key, None)
    finally:
        handle.close()


def holds_stage_lock(stage: str) -> Callable[[F], F]:
    """Decorator for a stage's entry function: it runs under `stage_lock` of the workspace whose store
    (a `Store` among its arguments) it writes."""
    from .store import Store

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def locked(*args: Any, **kwargs: Any) -> Any:
            store = next((value for value in (*args, *kwargs.values()) if isinstance(value, Store)), None)
            if store is None:
                raise TypeError(f"{function.__qualname__} needs a Store argument to lock its workspace")
            with stage_lock(store.path.parent, stage):
                return function(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return decorate


# -- test-only fault injection ------------------------------------------------------------------

KILL_AT_ENV = "CMNER_TEST_KILL_AT"
_fault_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """TEST ONLY: SIGKILL this process at the N-th pass through the point `name`.

    Kill tests set CMNER_TEST_KILL_AT=<name>:<N> on a CLI subprocess to stop it at an exact instant
    (between two image copies, between the file swap and the split record, ...). Unset, as in every
    real run, this is one dictionary lookup.
    """
    wanted = os.environ.get(KILL_AT_ENV)
    if not wanted:
        return
    point, _, count = wanted.rpartition(":")
    if point != name:
        return
    _fault_hits[name] = _fault_hits.get(name, 0) + 1
    if str(_fault_hits[name]) == count:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
