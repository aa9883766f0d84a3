"""The adjudication project on a Doccano server, behind a narrow interface.

This module needs four operations from the Doccano adapter of the annotate stage (issue 5) and
nothing else; `connect_adjudication_server` is where that adapter is plugged in. Offsets in the
records are already UTF-16 (adjudication_doccano), exactly what Doccano imports and exports.

The project is recorded as a core `batches` row with round 'adjudication' (project id, name, the
adjudicator in meta) and one `batch_posts` row per post (text as uploaded, example id). No
`annotations` rows are written for it: its spans are decisions, applied by `adjudicate pull`.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from cmner_build.errors import CmnerError
from cmner_build.store import Store, utc_now

from .adjudication import PullReport, apply_adjudicator_lines
from .adjudication_doccano import adjudication_record, read_adjudicator_export
from .adjudication_store import StoredPost
from .agreement_schema import ensure_schema

ADJUDICATION_GUIDELINE = (
    "Adjudication: each example is a post the annotators disagreed on. The labels shown are the majority "
    "and a suggestion per conflict; the metadata lists each conflict (conflict_N) and each annotator's "
    "version (version_A, ...). Correct the spans, add a comment 'reason: <code>' (or 'reason N: <code>' "
    "for conflict N), then mark the example as done."
)


class AdjudicationServer(Protocol):
    """What adjudication needs from a Doccano server (implemented by the annotate stage's adapter)."""

    def create_project(self, name: str, description: str, guideline: str) -> int:
        """A SequenceLabeling project, collaborative_annotation=False, span types PER/LOC/ORG/MISC.
        Returns its id; returns the existing project's id if one with this name already exists."""

    def add_member(self, project_id: int, username: str, role: str) -> None:
        """Add an existing user with role 'project_admin' or 'annotator' (no-op if already a member)."""

    def upload_records(self, project_id: int, jsonl_path: Path, owner: str) -> dict[str, int]:
        """Import the JSONL (Doccano's format, UTF-16 offsets) so that the pre-filled `label` spans belong to
        `owner`: in a non-collaborative project, labels imported by the admin are invisible to anyone else
        (notes/doccano.md §2.6), so upload as `owner` or re-create the spans as `owner`. Must skip posts
        already in the project (by meta `post_id`). Returns post_id -> example id."""

    def download_export(self, project_id: int, dest_dir: Path) -> Path:
        """The project's JSONL export zip, confirmed examples only (`exportApproved: true`, one
        `<username>.jsonl` per member, comments included). Returns the zip's path."""


def connect_adjudication_server(settings: Any) -> AdjudicationServer:
    """The Doccano server of the workspace (cmner.toml [doccano]); wired to the annotate stage's adapter."""
    raise CmnerError(
        "the Doccano connection for adjudication is not available in this build; write the project file with "
        "`cmner-build adjudicate --jsonl FILE`, import it in Doccano as the adjudicator, and bring the "
        "decisions back with `cmner-build adjudicate pull --from-export ZIP`"
    )


@dataclass
class PushResult:
    batch_id: str | None = None
    project_id: int | None = None
    posts: int = 0
    already_out: list[str] = field(default_factory=list)  # posts waiting in an earlier adjudication project


def _next_batch_id(store: Store) -> str:
    count = store.scalar("SELECT COUNT(*) FROM batches WHERE round = 'adjudication'")
    return f"adjudication-{count + 1:04d}"


def push_to_server(
    store: Store, server: AdjudicationServer, posts: Sequence[StoredPost], adjudicator: str, reason_codes: Sequence[str]
) -> PushResult:
    """Create an adjudication project holding every open post not already out for adjudication."""
    result = PushResult()
    out = {row["post_id"] for row in store.query(
        "SELECT p.post_id FROM batch_posts p JOIN batches b ON b.batch_id = p.batch_id WHERE b.round = 'adjudication'"
    )}
    wanted = []
    for post in posts:
        if post.state != "open" or not post.open_clusters:
            continue
        if post.merged.post_id in out:
            result.already_out.append(post.merged.post_id)
        else:
            wanted.append(post)
    if not wanted:
        return result
    batch_id = _next_batch_id(store)
    name = f"cmner {batch_id}"
    records = [adjudication_record(post, reason_codes) for post in wanted]
    with store.transaction():  # recorded first, so a crash before the upload is resumable by name
        store.execute(
            "INSERT INTO batches (batch_id, round, project_id, project_name, created_at, meta) "
            "VALUES (?, 'adjudication', NULL, ?, ?, ?)",
            (batch_id, name, utc_now(), json.dumps({"adjudicator": adjudicator})),
        )
        store.connection.executemany(
            "INSERT INTO batch_posts (batch_id, post_id, text) VALUES (?, ?, ?)",
            [(batch_id, post.merged.post_id, post.merged.text) for post in wanted],
        )
    project_id = server.create_project(name, f"adjudication of {len(wanted)} posts", ADJUDICATION_GUIDELINE)
    server.add_member(project_id, adjudicator, "project_admin")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{batch_id}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records), encoding="ascii")
        example_ids = server.upload_records(project_id, path, adjudicator)
    with store.transaction():
        store.execute("UPDATE batches SET project_id = ? WHERE batch_id = ?", (project_id, batch_id))
        store.connection.executemany(
            "UPDATE batch_posts SET example_id = ? WHERE batch_id = ? AND post_id = ?",
            [(example_ids.get(post.merged.post_id), batch_id, post.merged.post_id) for post in wanted],
        )
        store.log_event("adjudicate", "project", f"{len(wanted)} posts sent to {adjudicator}", batch_id=batch_id,
                        project_id=project_id)
    result.batch_id, result.project_id, result.posts = batch_id, project_id, len(wanted)
    return result


def pull_from_server(store: Store, server: AdjudicationServer, reason_codes: Sequence[str]) -> PullReport:
    """Apply the confirmed examples of every adjudication project that still has an open post."""
    ensure_schema(store)
    total = PullReport()
    waiting = store.query(
        "SELECT DISTINCT b.batch_id, b.project_id, b.meta, b.created_at FROM batches b "
        "JOIN batch_posts p ON p.batch_id = b.batch_id JOIN adjudication_posts a ON a.post_id = p.post_id "
        "WHERE b.round = 'adjudication' AND b.project_id IS NOT NULL AND a.state = 'open' "
        "ORDER BY b.created_at, b.batch_id"
    )
    for row in waiting:
        adjudicator = json.loads(row["meta"]).get("adjudicator")
        with tempfile.TemporaryDirectory() as folder:
            archive = server.download_export(row["project_id"], Path(folder))
            lines = read_adjudicator_export(archive, adjudicator)
            report = apply_adjudicator_lines(store, lines, reason_codes)
        for key, value in report.__dict__.items():
            merged = getattr(total, key)
            if isinstance(merged, dict):
                merged.update(value)
            else:
                merged.extend(item for item in value if item not in merged)
    return total
