"""One crawl per workspace at a time: an advisory lock the OS releases even when the process is killed."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cmner_build.errors import WorkspaceError

LOCK_NAME = ".crawl.lock"


@contextmanager
def crawl_lock(root: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    path = Path(root) / LOCK_NAME
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WorkspaceError(
                f"{root}: another crawl is running in this workspace (pid {holder}); wait for it or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
