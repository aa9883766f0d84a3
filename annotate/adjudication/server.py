"""The adjudication project on a Doccano server: `adjudicate --doccano` and `adjudicate pull`.

`AdjudicationServer` is what adjudication needs from a server; `DoccanoAdjudicationServer` implements
it on the annotate stage's adapter (DoccanoAPI, ensure_sequence_labeling_project, ensure_members,
example_record, upload_jsonl, export_zip, read_export_zip), so there is one HTTP layer and one offset
conversion.

Ownership (docs/doccano.md §3): in a non-collaborative project, spans imported by the admin belong
to the admin and the adjudicator never sees them. So the admin creates the project and adds the
adjudicator as its project admin (Doccano lets only project admins import), and the records are
uploaded logged in as the adjudicator: the pre-filled spans are theirs to keep, change or delete. The
adjudicator's password comes from the variable named by `[agreement] adjudicator_password_env`, else
from the owner-only password file of `annotate users add`; an adjudicator with no account yet gets one,
its generated password appended to that file.

The project is recorded as a core `batches` row with round 'adjudication' (project id, name, the
adjudicator in meta) and one `batch_posts` row per post (text as uploaded, example id), committed
before anything is sent: a run that dies half-way is finished by the next one (the project is found by
name, examples by the post id in their meta, duplicates deleted), so no project or example is ever
created twice. No `annotations` rows are written for it: its spans are decisions, applied by
`adjudicate pull`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from cmner_build.errors import CmnerError
from cmner_build.store import Store
from cmner_build.workspace import Workspace
from cmner_build.safety import holds_stage_lock

from cmner_build.annotate.adjudication.run import PullReport, apply_adjudicator_lines
from cmner_build.annotate.adjudication.doccano import adjudication_record, adjudicator_file, adjudicator_lines
from cmner_build.annotate.adjudication.store import load_posts
from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoAuthError, DoccanoError
from cmner_build.annotate.doccano.examples import META_POST_ID, ExportedExample, read_export_zip
from cmner_build.annotate.doccano.projects import ensure_members, ensure_sequence_labeling_project
from cmner_build.annotate.push import check_project, project_name, reconcile_examples
from cmner_build.annotate.rounds import ADJUDICATION, ANNOTATE_LOCK, last_batch_number
from cmner_build.annotate.users import ensure_account, read_passwords

ADJUDICATION_GUIDELINE = (
    "Adjudication: each example is a post the annotators disagreed on. The labels shown are the majority "
    "and a suggestion per conflict; the metadata lists each conflict (conflict_N) and each annotator's "
    "version (version_A, ...). Correct the spans, add a comment 'reason: <code>' (or 'reason N: <code>' "
    "for conflict N), then mark the example as done."
)
ADJUDICATOR_ROLE = "project_admin"  # Doccano lets only project admins import


class AdjudicationServer(Protocol):
    """What adjudication needs from a Doccano server."""

    url: str

    def ensure_user(self, username: str) -> bool:
        """Make sure the account exists; True when it was created now (password to the password file)."""

    def create_project(self, name: str, description: str, guideline: str) -> int:
        """A SequenceLabeling project, collaborative_annotation=False, span types PER/LOC/ORG/MISC.
        Returns its id; returns the existing project's id if one with this name already exists."""

    def check_project(self, project_id: int, name: str, batch_id: str) -> None:
        """Raise a clear error when the recorded project is not on this server under this name."""

    def add_member(self, project_id: int, username: str, role: str) -> None:
        """Add an existing user with this role (no-op if already a member)."""

    def upload_records(self, project_id: int, records: list[dict[str, Any]], owner: str, *, batch_id: str) -> dict[str, int]:
        """Import `example_record` records so that their pre-filled spans belong to `owner`, skipping posts the
        project already holds (by meta post_id) and deleting duplicates. Returns post_id -> example id."""

    def download_export(self, project_id: int) -> dict[str, list[ExportedExample]]:
        """The project's per-user export, confirmed examples only, read by `read_export_zip` (code points,
        comments included)."""


class DoccanoAdjudicationServer:
    """AdjudicationServer on the annotate stage's adapter: the admin creates, reconciles and exports; the
    adjudicator uploads."""

    def __init__(self, admin: DoccanoAPI, password_file: Path, password_env: str = "") -> None:
        self.admin = admin
        self.url = admin.url
        self.password_file = password_file
        self.password_env = password_env

    def close(self) -> None:
        self.admin.close()

    def __enter__(self) -> "DoccanoAdjudicationServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ensure_user(self, username: str) -> bool:
        return ensure_account(self.admin, username, self.password_file).created

    def create_project(self, name: str, description: str, guideline: str) -> int:
        return ensure_sequence_labeling_project(self.admin, name, description=description, guideline=guideline)

    def check_project(self, project_id: int, name: str, batch_id: str) -> None:
        check_project(self.admin, batch_id, project_id, name)

    def add_member(self, project_id: int, username: str, role: str) -> None:
        ensure_members(self.admin, project_id, [username], role)

    def upload_records(self, project_id: int, records: list[dict[str, Any]], owner: str, *, batch_id: str) -> dict[str, int]:
        texts = {record[META_POST_ID]: record["text"] for record in records}
        held, _ = reconcile_examples(self.admin, batch_id, project_id, texts)
        missing = [record for record in records if record[META_POST_ID] not in held]
        if missing:
            uploader = self.admin if owner == self.admin.username else self._login(owner)
            try:
                errors = uploader.upload_jsonl(project_id, missing, file_name=f"{batch_id}.jsonl")
            finally:
                if uploader is not self.admin:
                    uploader.close()
            if errors:
                raise DoccanoError(f"adjudication batch {batch_id}: Doccano reported import errors: {errors[:3]}")
            held, _ = reconcile_examples(self.admin, batch_id, project_id, texts)
        lost = [post_id for post_id in texts if post_id not in held]
        if lost:
            raise DoccanoError(f"adjudication batch {batch_id}: {len(lost)} posts are still missing in project "
                               f"{project_id} after the upload (e.g. {lost[0]}); run `adjudicate --doccano` again")
        return {post_id: held[post_id][0][0] for post_id in texts}

    def download_export(self, project_id: int) -> dict[str, list[ExportedExample]]:
        return read_export_zip(self.admin.export_zip(project_id, confirmed_only=True))

    def _login(self, username: str) -> DoccanoAPI:
        password = os.environ.get(self.password_env) if self.password_env else None
        if not password:
            password = read_passwords(self.password_file).get(username) if self.password_file.exists() else None
        if not password:
            raise CmnerError(
                f"no password for the adjudicator {username!r}: the records are uploaded as them, so that the "
                f"pre-filled spans are theirs. Set the variable {self.password_env or '[agreement] adjudicator_password_env'} "
                f"to their Doccano password, or add `{username}<TAB>password` to {self.password_file}"
            )
        try:
            return DoccanoAPI.login(self.url, username, password)
        except DoccanoAuthError:
            raise DoccanoAuthError(
                f"Doccano at {self.url} rejected the login of the adjudicator {username!r}: the password in "
                f"{'$' + self.password_env if os.environ.get(self.password_env or '') else self.password_file} is wrong"
            ) from None


def connect_adjudication_server(workspace: Workspace, url: str | None = None) -> DoccanoAdjudicationServer:
    """The Doccano server of the workspace ([doccano] url, or `url`), logged in as the admin."""
    from cmner_build.annotate.doccano.connect import connect_admin
    from cmner_build.annotate.settings import agreement_settings, annotate_settings

    password_env = agreement_settings(workspace.settings).adjudicator_password_env
    return DoccanoAdjudicationServer(connect_admin(workspace, url), annotate_settings(workspace).password_file,
                                     password_env)


@dataclass
class PushResult:
    batch_id: str | None = None
    project_id: int | None = None
    posts: int = 0
    already_out: list[str] = field(default_factory=list)  # posts waiting in an earlier adjudication project
    resumed: list[str] = field(default_factory=list)  # earlier batches an interrupted run left unfinished
    accounts_created: list[str] = field(default_factory=list)  # adjudicators given an account now
    url: str = ""


def _next_batch_id(store: Store) -> str:
    return f"{ADJUDICATION}-{last_batch_number(store, ADJUDICATION) + 1:04d}"


def _unfinished_batches(store: Store) -> list[str]:
    """Adjudication batches without a project, or with a post not yet in it (a run died half-way)."""
    rows = store.query(
        "SELECT b.batch_id FROM batches b WHERE b.round = ? AND (b.project_id IS NULL OR EXISTS ("
        "SELECT 1 FROM batch_posts p WHERE p.batch_id = b.batch_id AND p.example_id IS NULL)) ORDER BY b.batch_id",
        (ADJUDICATION,),
    )
    return [row["batch_id"] for row in rows]


@holds_stage_lock(ANNOTATE_LOCK)
def push_to_server(store: Store, server: AdjudicationServer, posts: Sequence[Any], adjudicator: str,
                   reason_codes: Sequence[str], prefix: str = "") -> PushResult:
    """Create an adjudication project holding every open post not already out for adjudication (after
    finishing any batch an interrupted run left behind)."""
    result = PushResult(url=server.url)
    out = {row["post_id"] for row in store.query(
        "SELECT p.post_id FROM batch_posts p JOIN batches b ON b.batch_id = p.batch_id WHERE b.round = ?",
        (ADJUDICATION,))}
    wanted = []
    for post in posts:
        if post.state != "open" or not post.open_clusters:
            continue
        if post.merged.post_id in out:
            result.already_out.append(post.merged.post_id)
        else:
            wanted.append(post)
    for batch_id in _unfinished_batches(store):
        _send_batch(store, server, batch_id, reason_codes, result)
        result.resumed.append(batch_id)
    if not wanted:
        return result
    batch_id = _next_batch_id(store)
    with store.transaction():  # the plan first: a crash after this is finished by the next run
        store.create_batch(batch_id, ADJUDICATION, project_name(store, batch_id, prefix),
                           posts=[(post.merged.post_id, post.merged.text, None) for post in wanted],
                           meta={"adjudicator": adjudicator})
    result.batch_id, result.project_id = batch_id, _send_batch(store, server, batch_id, reason_codes, result)
    result.posts = len(wanted)
    return result


def _send_batch(store: Store, server: AdjudicationServer, batch_id: str, reason_codes: Sequence[str],
                result: PushResult) -> int:
    """Make the server hold the batch's project with one example per post, uploaded as the adjudicator."""
    batch = store.query("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))[0]
    adjudicator = json.loads(batch["meta"])["adjudicator"]
    post_ids = [row[0] for row in store.query("SELECT post_id FROM batch_posts WHERE batch_id = ? ORDER BY rowid",
                                              (batch_id,))]
    records = [adjudication_record(post, reason_codes, batch_id) for post in load_posts(store, post_ids=post_ids)]
    if server.ensure_user(adjudicator):
        result.accounts_created.append(adjudicator)
    name = batch["project_name"]
    if batch["project_id"] is None:
        project_id = server.create_project(name, f"cmner-build adjudication: {len(post_ids)} posts for {adjudicator}",
                                           ADJUDICATION_GUIDELINE)
        with store.transaction():
            store.execute("UPDATE batches SET project_id = ?, meta = json_set(meta, '$.url', ?) WHERE batch_id = ?",
                          (project_id, server.url, batch_id))
    else:
        project_id = int(batch["project_id"])
        server.check_project(project_id, name, batch_id)
    server.add_member(project_id, adjudicator, ADJUDICATOR_ROLE)
    example_ids = server.upload_records(project_id, records, adjudicator, batch_id=batch_id)
    with store.transaction():
        store.connection.executemany(
            "UPDATE batch_posts SET example_id = ? WHERE batch_id = ? AND post_id = ?",
            [(example_ids.get(post_id), batch_id, post_id) for post_id in post_ids],
        )
        store.log_event("adjudicate", "project", f"{len(post_ids)} posts sent to {adjudicator}", batch_id=batch_id,
                        project_id=project_id)
    return project_id


@holds_stage_lock(ANNOTATE_LOCK)
def pull_from_server(store: Store, server: AdjudicationServer, reason_codes: Sequence[str]) -> PullReport:
    """Apply the confirmed examples of every adjudication project that still has an open post."""
    total = PullReport()
    waiting = store.query(
        "SELECT DISTINCT b.batch_id, b.project_id, b.project_name, b.meta, b.created_at FROM batches b "
        "JOIN batch_posts p ON p.batch_id = b.batch_id JOIN adjudication_posts a ON a.post_id = p.post_id "
        "WHERE b.round = ? AND b.project_id IS NOT NULL AND a.state = 'open' ORDER BY b.created_at, b.batch_id",
        (ADJUDICATION,),
    )
    for row in waiting:
        project_id = int(row["project_id"])
        server.check_project(project_id, row["project_name"], row["batch_id"])
        files = server.download_export(project_id)
        where = f"adjudication batch {row['batch_id']} (project {project_id})"
        name, examples = adjudicator_file(files, json.loads(row["meta"]).get("adjudicator"), where)
        report = apply_adjudicator_lines(store, adjudicator_lines(examples, f"project {project_id}!{name}.jsonl"),
                                         reason_codes)
        for key, value in report.__dict__.items():
            merged = getattr(total, key)
            if isinstance(merged, dict):
                merged.update(value)
            else:
                merged.extend(item for item in value if item not in merged)
    return total
