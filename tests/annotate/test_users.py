"""Annotator names, the owner-only password file, the pool."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cmner_build.annotate.users import append_password, check_usernames, pool_annotators, read_passwords, register_annotators
from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace


def test_password_file_is_owner_only_even_if_it_existed_looser(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "pw.tsv"
    append_password(path, "ann1", "Cm-one")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)
    append_password(path, "ann2", "Cm-two")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_passwords(path) == {"ann1": "Cm-one", "ann2": "Cm-two"}


def test_usernames_are_checked_and_deduplicated() -> None:
    assert check_usernames(["ann_a", "b.c@d", "ann_a"]) == ["ann_a", "b.c@d"]
    with pytest.raises(CmnerError, match="not a valid Doccano user name"):
        check_usernames(["bad name"])


def test_pool_is_the_setting_or_the_registered_annotators(workspace: Workspace) -> None:
    register_annotators(workspace.store, ["z", "y"])
    register_annotators(workspace.store, ["x"])
    assert pool_annotators(workspace.store, []) == ["z", "y", "x"]
    assert pool_annotators(workspace.store, ["y", "x"]) == ["y", "x"]
    workspace.store.execute("UPDATE annotators SET active = 0 WHERE username = 'y'")
    assert pool_annotators(workspace.store, []) == ["z", "x"]
