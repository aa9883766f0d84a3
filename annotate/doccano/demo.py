"""The annotate steps of `cmner-build demo`: a served Doccano when one answers, else bundled exports.

With a server (it answers at [doccano] url, the admin password is in the environment, and the demo
posts are 'ready'), the demo creates the three demo annotators, pushes the pilot and the main batch
there, so the projects can be looked at in the browser. Nobody annotates during a demo, so in both
cases the three annotators' work comes from the bundled export zips (scripts/make_demo_annotations.py),
pulled with `annotate pull --from-export` exactly as a hand-over zip would be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

DEMO_ANNOTATORS: tuple[str, ...] = ("ann_a", "ann_b", "ann_c")
PILOT_SIZE = 20  # the bundled pilot.zip holds the 20 posts `push --pilot 20` draws with the default seed


def _workspace(root: Path):
    from cmner_build.workspace import open_workspace

    return open_workspace(root)


def served_doccano(root: Path) -> bool:
    """True when a Doccano answers at the workspace's [doccano] url, its admin can log in with the
    password in the environment, and there are ready posts to push."""
    from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoError
    from cmner_build.annotate.settings import doccano_settings

    workspace = _workspace(root)
    try:
        settings = doccano_settings(workspace)
        password = os.environ.get(settings.password_env)
        ready = workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'ready'")
        if not password or not ready:
            return False
        try:
            with DoccanoAPI.login(settings.url, settings.admin_user, password, timeout=5.0):
                return True
        except DoccanoError:
            return False
    finally:
        workspace.close()


def users_step(root: Path) -> Optional[Sequence[str]]:
    return ["annotate", "users", "add", *DEMO_ANNOTATORS] if served_doccano(root) else None


def push_pilot_step(root: Path) -> Optional[Sequence[str]]:
    return ["annotate", "push", "--pilot", str(PILOT_SIZE)] if served_doccano(root) else None


def push_main_step(root: Path) -> Optional[Sequence[str]]:
    """Main batches go to the server only once the pilot passed (the `agreement --round pilot` step)."""
    from cmner_build.annotate.agreement.runs import latest_pilot_gate

    if not served_doccano(root):
        return None
    workspace = _workspace(root)
    try:
        passed = latest_pilot_gate(workspace.store).passed
    finally:
        workspace.close()
    return ["annotate", "push"] if passed else None

