"""Annotator accounts: created on Doccano with generated passwords, listed in the store (names only).

Each new password is written once, to a file only its owner can read (0600), and nowhere else: not to
corpus.db, not to the events, not to the terminal.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cmner_build.errors import CmnerError
from cmner_build.store import Store, utc_now

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.server import generate_password

# Django's username rule (letters, digits and @ . + - _), at most 150 characters.
USERNAME_PATTERN = re.compile(r"^[\w.@+-]{1,150}$", re.ASCII)


@dataclass
class AnnotatorAccount:
    username: str
    created: bool  # False: the account already existed on the server; its password was left alone


def check_usernames(names: Iterable[str]) -> list[str]:
    unique: list[str] = []
    for name in names:
        if not USERNAME_PATTERN.match(name):
            raise CmnerError(f"{name!r} is not a valid Doccano user name (letters, digits and @ . + - _ only)")
        if name not in unique:
            unique.append(name)
    return unique


def register_annotators(store: Store, names: Iterable[str]) -> None:
    """Put names in the store's annotator list (idempotent; reactivates a deactivated name)."""
    with store.transaction():
        for name in names:
            store.execute(
                "INSERT INTO annotators (username, active, created_at) VALUES (?, 1, ?) "
                "ON CONFLICT(username) DO UPDATE SET active = 1",
                (name, utc_now()),
            )


def add_annotators(api: DoccanoAPI, store: Store, names: Iterable[str], password_file: Path) -> list[AnnotatorAccount]:
    """Create the Doccano accounts that do not exist yet and record every name in the store.

    A new account's password is appended to `password_file` (created 0600) before the next account is
    made, so a failure half-way loses no password."""
    accounts: list[AnnotatorAccount] = []
    for name in check_usernames(names):
        accounts.append(ensure_account(api, name, password_file))
        register_annotators(store, [name])
        store.log_event("annotate", "user", f"annotator {name} {'created' if accounts[-1].created else 'registered'}")
    return accounts


def ensure_account(api: DoccanoAPI, name: str, password_file: Path) -> AnnotatorAccount:
    """The Doccano account `name`, created with a generated password (appended to `password_file`, 0600)
    when it does not exist yet; an existing account is left as it is."""
    (name,) = check_usernames([name])
    if api.find_user(name) is not None:
        return AnnotatorAccount(name, created=False)
    password = generate_password()
    api.create_user(name, password)
    append_password(password_file, name, password)
    return AnnotatorAccount(name, created=True)


def append_password(path: Path, username: str, password: str) -> None:
    """Append `username<TAB>password` to a file that only its owner may read or write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if stat.S_IMODE(os.fstat(descriptor).st_mode) != 0o600:
            os.fchmod(descriptor, 0o600)  # an existing file with looser rights is tightened first
        os.write(descriptor, f"{username}\t{password}\n".encode())
    finally:
        os.close(descriptor)


def read_passwords(path: Path) -> dict[str, str]:
    """{username: password} from a password file (the last line of a name wins)."""
    passwords: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise CmnerError(f"{path}: no password file (it is written by `cmner-build annotate users add`)") from None
    for number, line in enumerate(lines, start=1):
        if line.strip():
            name, separator, password = line.partition("\t")
            if not separator:
                raise CmnerError(f"{path}:{number}: expected `username<TAB>password`")
            passwords[name] = password
    return passwords


def pool_annotators(store: Store, configured_pool: list[str]) -> list[str]:
    """The pool: [annotate] pool when set, else every active annotator in the store (in order added)."""
    if configured_pool:
        return check_usernames(configured_pool)
    rows = store.query("SELECT username FROM annotators WHERE active = 1 ORDER BY created_at, rowid")
    return [row["username"] for row in rows]
