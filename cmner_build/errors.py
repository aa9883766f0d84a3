"""Errors that reach the user as a clear one-line message instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class CmnerError(Exception):
    """Base class: the CLI prints the message and exits non-zero, without a traceback."""

    exit_code = 2


class ConfigError(CmnerError):
    """cmner.toml is missing a value or holds one of the wrong type."""


class WorkspaceError(CmnerError):
    """The workspace folder is missing, or is not a cmner-build workspace."""


class FormatError(CmnerError):
    """Input data is malformed; names the file and line so the user can find it."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")
