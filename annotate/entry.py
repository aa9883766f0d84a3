"""The entry points of `cmner-build annotate users add / push / pull / images` and `doccano serve`: a
workspace and plain options in, the report out. The CLI parses, calls one of these, and prints; notebooks call them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace

from cmner_build.annotate.doccano.connect import connect_admin
from cmner_build.annotate.doccano.server import ServerRecord
from cmner_build.annotate.image_relevance import ImagePullReport, ImagePushReport, pull_image_votes
from cmner_build.annotate.pull import PullReport, pull_from_export, pull_from_server
from cmner_build.annotate.push import PushReport, model_in_the_loop, push as push_posts, require_pilot_passed
from cmner_build.annotate.settings import DoccanoSettings, annotate_settings, doccano_settings
from cmner_build.annotate.users import AnnotatorAccount


def push_to_doccano(workspace: Workspace, *, pilot: int | None = None, batch_size: int | None = None,
                    force: bool = False, url: str | None = None,
                    warn: Callable[[str], None] = lambda message: None,
                    suggest: str | None = None, min_confidence: float | None = None, order: str = "random",
                    run: str | None = None, password_file: Path | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> PushReport:
    """Plan the pilot (`pilot` posts) or the main batches, then push every unfinished batch.
    Main batches need a passed pilot unless `force` (then `warn` is told). Model in the loop (main
    batches only): `suggest` pre-fills each annotator's copy with that run's spans of at least
    `min_confidence`; `order="uncertainty"` batches the posts `run` (default: the `suggest` run) is least
    sure of first."""
    from cmner_build.annotate.guideline import load_guideline
    from cmner_build.annotate.users import pool_annotators

    settings = annotate_settings(workspace)
    if pilot is not None and pilot < 1:
        raise CmnerError(f"--pilot must be at least 1, not {pilot}")
    if batch_size is not None and batch_size < 1:
        raise CmnerError(f"--batch-size must be at least 1, not {batch_size}")
    model = model_in_the_loop(workspace.store, pilot=pilot is not None, suggest=suggest, min_confidence=min_confidence,
                              order=order, run=run, password_file=password_file or settings.password_file)
    if pilot is None and not force:
        require_pilot_passed(workspace.store)  # before logging in: the clearest message first
    elif pilot is None:
        warn("--force: pushing main batches without a passed pilot")
    pool = pool_annotators(workspace.store, settings.pool)
    guideline = load_guideline(workspace.root, settings.guideline)
    with connect_admin(workspace, url) as api:
        return push_posts(api, workspace.store, pool=pool, guideline=guideline, seed=settings.seed,
                          pilot_size=pilot, batch_size=batch_size or settings.batch_size, per_post=settings.per_post,
                          force=True, prefix=settings.project_prefix, order_run=model.order_run,
                          suggest=model.suggest, passwords=model.passwords, progress=progress)


@dataclass
class PullOutcome:
    report: PullReport
    images: ImagePullReport | None = None  # the image-relevance round, pulled with the server's batches


def pull_annotations(workspace: Workspace, *, batches: Sequence[str] = (), from_export: Path | None = None,
                     round_: str | None = None, url: str | None = None) -> PullOutcome:
    """Each annotator's spans and confirmations into the store: from the server (every text batch, or
    `batches`), or from an export zip handed over (`from_export`, offline; one batch, created if new)."""
    if from_export is not None:
        if len(batches) > 1:
            raise CmnerError("--from-export takes one --batch")
        if not from_export.is_file():
            raise CmnerError(f"{from_export}: no such file")
        admin = doccano_settings(workspace).admin_user
        return PullOutcome(pull_from_export(workspace.store, from_export, batch_id=(list(batches) or [None])[0],
                                            round_=round_, exclude_users=(admin,),
                                            limits=annotate_settings(workspace).zip_limits))
    if round_ is not None:
        raise CmnerError("--round only goes with --from-export")
    with connect_admin(workspace, url) as api:
        report = pull_from_server(api, workspace.store, list(batches) or None)
        images = pull_image_votes(api, workspace.store) if not batches else None
    return PullOutcome(report, images)


@dataclass
class UsersOutcome:
    accounts: list[AnnotatorAccount]
    password_file: Path  # where the new passwords were appended
    url: str  # the server they live on


def add_users(workspace: Workspace, names: Sequence[str], *, url: str | None = None,
              password_file: Path | None = None) -> UsersOutcome:
    """Annotator accounts in Doccano with generated passwords, appended to an owner-only file."""
    from cmner_build.annotate.users import add_annotators, check_usernames

    check_usernames(names)
    target = password_file or annotate_settings(workspace).password_file
    with connect_admin(workspace, url) as api:
        accounts = add_annotators(api, workspace.store, names, target)
    return UsersOutcome(accounts, target, api.url)


def push_image_round(workspace: Workspace, *, url: str | None = None,
                     annotators: Sequence[str] = ()) -> ImagePushReport | None:
    """The image-relevance round for `annotators` (default: the pool); None when no image is waiting."""
    from cmner_build.annotate.image_relevance import push_images
    from cmner_build.annotate.users import check_usernames, pool_annotators

    settings = annotate_settings(workspace)
    names = check_usernames(annotators) if annotators else pool_annotators(workspace.store, settings.pool)
    with connect_admin(workspace, url) as api:
        return push_images(api, workspace.store, workspace.images_dir, names, prefix=settings.project_prefix)


@dataclass
class ServeOutcome:
    record: ServerRecord
    settings: DoccanoSettings
    generated_password: str | None  # the admin password made now (shown once, stored nowhere)


def serve_doccano(workspace: Workspace, *, port: int | None = None, host: str = "127.0.0.1",
                  venv: Path | None = None, python: str | None = None, workers: int | None = None,
                  log: Callable[[str], None] = lambda message: None) -> ServeOutcome:
    """Start the local Doccano 1.8.4 in the background: its venv built on first use, its database
    initialised once (the admin password from [doccano] password_env's variable, else generated)."""
    import os
    from urllib.parse import urlparse

    from cmner_build.annotate.doccano.server import (
        database_exists, default_venv_path, ensure_server_venv, generate_password, init_database, start_server,
    )

    settings = doccano_settings(workspace)
    parsed = urlparse(settings.url)
    chosen_port = port or (parsed.port if parsed.hostname in ("127.0.0.1", "localhost") and parsed.port else 8000)
    server_venv = ensure_server_venv(venv or default_venv_path(settings.server_venv),
                                     python or settings.server_python or None, log=log)
    generated = None
    if not database_exists(settings.server_dir):
        password = os.environ.get(settings.password_env)
        if not password:
            password = generated = generate_password()
        log(f"initialising the Doccano database in {settings.server_dir} (once)")
        init_database(server_venv, settings.server_dir, settings.admin_user, password)
    record = start_server(server_venv, settings.server_dir, host=host, port=chosen_port,
                          workers=workers or settings.workers)
    return ServeOutcome(record, settings, generated)
