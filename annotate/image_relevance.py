"""The optional image round (`annotate images`): annotators mark images unrelated to their post's text.

The paper checked this by hand. Here the kept images of posts already pushed go to one Doccano image
classification project per run (labels related / unrelated, one choice per image), with the post's id
and text in each example's meta so the annotator sees what the image should illustrate. `annotate pull`
fetches the choices; an image that a majority of the batch's annotators call unrelated is dropped with reason
`unrelated_to_text` (and comes back to 'kept' if a later pull no longer says so).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cmner_build.errors import CmnerError
from cmner_build.store import Store, utc_now
from cmner_build.safety import holds_stage_lock

from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoError
from cmner_build.annotate.doccano.examples import read_export_zip
from cmner_build.annotate.doccano.projects import ensure_image_relevance_project, ensure_members
from cmner_build.annotate.push import check_project, project_name
from cmner_build.annotate.rounds import ANNOTATE_LOCK, IMAGES, last_batch_number
from cmner_build.annotate.users import register_annotators

DROP_REASON = "unrelated_to_text"
UPLOAD_CHUNK = 200
IMAGE_GUIDELINE = """# 图文相关性 / Image relevance

每个样本是一张微博配图，右侧元数据里有这条微博的文字（post_text）。如果图片与文字内容无关
（广告、二维码、与话题无关的表情包等），选 **unrelated**（快捷键 `u`）；否则选 **related**（`r`）。

Each example is one image of a Weibo post; its text is in the metadata (post_text). Choose
**unrelated** (key `u`) when the image has nothing to do with the text (ads, QR codes, memes off the
topic), otherwise **related** (key `r`).
"""


@dataclass
class ImagePushReport:
    batch_id: str
    project_id: int
    annotators: list[str]
    images: int
    uploaded: int


@dataclass
class ImagePullReport:
    batches: list[str]
    votes: int
    dropped: int
    restored: int
    posts_without_images: list[str]


def _next_batch_id(store: Store) -> str:
    return f"{IMAGES}-{last_batch_number(store, IMAGES) + 1:04d}"


def plan_images(store: Store, annotators: Sequence[str], prefix: str = "") -> str | None:
    """A new images batch with every kept image of a pushed post not checked yet; None when there is none."""
    rows = store.query(
        """SELECT i.image_id FROM images i JOIN posts p USING (post_id)
           WHERE i.status = 'kept' AND i.file_name IS NOT NULL AND p.status IN ('annotating', 'annotated')
             AND i.image_id NOT IN (SELECT image_id FROM annotate_image_examples)
           ORDER BY i.post_id, i.position""")
    if not rows:
        return None
    if not annotators:
        raise CmnerError("no annotator for the image round: add some with `cmner-build annotate users add`")
    batch_id = _next_batch_id(store)
    register_annotators(store, annotators)
    with store.transaction():
        store.create_batch(batch_id, IMAGES, project_name(store, batch_id, prefix), annotators=annotators)
        store.connection.executemany("INSERT INTO annotate_image_examples (batch_id, image_id, example_id) "
                                     "VALUES (?, ?, NULL)", [(batch_id, row[0]) for row in rows])
    return batch_id


def _held_by_file_name(api: DoccanoAPI, project_id: int) -> dict[str, list[int]]:
    files = read_export_zip(api.export_zip(project_id))
    held: dict[str, list[int]] = {}
    for example in next(iter(files.values())):
        name = example.file_name
        if name is not None and example.example_id is not None:
            held.setdefault(str(name), []).append(int(example.example_id))
    return {name: sorted(ids) for name, ids in held.items()}


@holds_stage_lock(ANNOTATE_LOCK)
def push_images(api: DoccanoAPI, store: Store, images_dir: Path, annotators: Sequence[str],
                prefix: str = "") -> ImagePushReport | None:
    """Plan (if needed) and push the oldest unfinished images batch. Idempotent like `push`: examples are
    found by their file name before uploading, duplicates are deleted."""
    pending = store.query(
        """SELECT b.batch_id FROM batches b WHERE b.round = 'images' AND (b.project_id IS NULL OR EXISTS (
               SELECT 1 FROM annotate_image_examples e WHERE e.batch_id = b.batch_id AND e.example_id IS NULL))
           ORDER BY b.batch_id LIMIT 1""")
    batch_id = pending[0][0] if pending else plan_images(store, annotators, prefix)
    if batch_id is None:
        return None
    batch = store.query("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))[0]
    members = [row[0] for row in store.query("SELECT annotator FROM batch_annotators WHERE batch_id = ? "
                                             "ORDER BY annotator", (batch_id,))]
    images = store.query(
        """SELECT e.image_id, i.file_name, i.post_id, p.text FROM annotate_image_examples e
           JOIN images i USING (image_id) JOIN posts p ON p.post_id = i.post_id
           WHERE e.batch_id = ? ORDER BY i.post_id, i.position""", (batch_id,))
    if batch["project_id"] is None:
        project_id = ensure_image_relevance_project(api, batch["project_name"], guideline=IMAGE_GUIDELINE,
                                                    description=f"cmner-build image relevance {batch_id}")
        with store.transaction():
            store.execute("UPDATE batches SET project_id = ? WHERE batch_id = ?", (project_id, batch_id))
    else:
        project_id = int(batch["project_id"])
        check_project(api, batch_id, project_id, batch["project_name"])
    ensure_members(api, project_id, members)
    held = _held_by_file_name(api, project_id)
    duplicates = [example_id for ids in held.values() for example_id in ids[1:]]
    api.delete_examples(project_id, duplicates)
    missing = [row for row in images if row["file_name"] not in held]
    for start in range(0, len(missing), UPLOAD_CHUNK):
        files = []
        for row in missing[start : start + UPLOAD_CHUNK]:
            path = images_dir / row["file_name"]
            try:
                files.append((row["file_name"], path.read_bytes()))
            except OSError as error:
                raise CmnerError(f"{path}: cannot read the image of post {row['post_id']} ({error})") from None
        errors = api.upload_files(project_id, files)
        if errors:
            raise DoccanoError(f"{batch_id}: Doccano reported import errors: {errors[:3]}")
    held = _held_by_file_name(api, project_id)
    lost = [row["file_name"] for row in images if row["file_name"] not in held]
    if lost:
        raise DoccanoError(f"{batch_id}: {len(lost)} images are still missing in project {project_id} (e.g. {lost[0]})")
    recorded = {row[0] for row in store.query("SELECT image_id FROM annotate_image_examples WHERE batch_id = ? "
                                              "AND example_id IS NOT NULL", (batch_id,))}
    for row in images:
        if row["image_id"] not in recorded:
            # The import creates no meta; the post id and text let the annotator judge relevance.
            api.update_example_meta(project_id, held[row["file_name"]][0],
                                    {"post_id": row["post_id"], "post_text": row["text"]})
            with store.transaction():
                store.execute("UPDATE annotate_image_examples SET example_id = ? WHERE batch_id = ? AND image_id = ?",
                              (held[row["file_name"]][0], batch_id, row["image_id"]))
    store.log_event("annotate", "images", f"{batch_id}: {len(images)} images in Doccano project {project_id}")
    return ImagePushReport(batch_id, project_id, members, len(images), len(missing))


@holds_stage_lock(ANNOTATE_LOCK)
def pull_image_votes(api: DoccanoAPI, store: Store) -> ImagePullReport:
    """Fetch every images batch's choices, store them, and drop/restore images by majority."""
    batches = [row for row in store.query("SELECT * FROM batches WHERE round = 'images' AND project_id IS NOT NULL "
                                          "ORDER BY batch_id")]
    fetched: list[tuple[str, list[tuple[int, str, str]]]] = []
    for batch in batches:
        check_project(api, batch["batch_id"], int(batch["project_id"]), batch["project_name"])
        by_example = {row["example_id"]: row["image_id"] for row in store.query(
            "SELECT image_id, example_id FROM annotate_image_examples WHERE batch_id = ? AND example_id IS NOT NULL",
            (batch["batch_id"],))}
        members = {row[0] for row in store.query("SELECT annotator FROM batch_annotators WHERE batch_id = ?",
                                                 (batch["batch_id"],))}
        votes = []
        for user, examples in read_export_zip(api.export_zip(int(batch["project_id"]))).items():
            if user not in members:
                continue
            for example in examples:
                image_id = by_example.get(example.example_id)
                chosen = [label for label in example.categories if label in ("related", "unrelated")]
                if image_id is not None and chosen:
                    votes.append((image_id, user, chosen[-1]))
        fetched.append((batch["batch_id"], votes))
    return store_image_votes(store, fetched)


def store_image_votes(store: Store, fetched: Sequence[tuple[str, list[tuple[int, str, str]]]]) -> ImagePullReport:
    now = utc_now()
    dropped = restored = votes_stored = 0
    touched_posts: set[str] = set()
    with store.transaction():
        for batch_id, votes in fetched:
            store.execute("DELETE FROM annotate_image_votes WHERE batch_id = ?", (batch_id,))
            store.connection.executemany(
                "INSERT INTO annotate_image_votes (batch_id, image_id, annotator, label, pulled_at) VALUES (?, ?, ?, ?, ?)",
                [(batch_id, image_id, user, label, now) for image_id, user, label in votes])
            votes_stored += len(votes)
            tally: dict[int, Counter[str]] = {}
            for image_id, _, label in votes:
                tally.setdefault(image_id, Counter())[label] += 1
            annotators = store.scalar("SELECT COUNT(*) FROM batch_annotators WHERE batch_id = ?", (batch_id,))
            for image_id, counts in tally.items():
                # A majority of the batch's annotators, not of those who voted: one lone vote drops nothing.
                unrelated = counts["unrelated"] * 2 > annotators
                row = store.query("SELECT post_id, status, drop_reason FROM images WHERE image_id = ?", (image_id,))[0]
                if unrelated and row["status"] == "kept":
                    store.execute("UPDATE images SET status = 'dropped', drop_reason = ? WHERE image_id = ?",
                                  (DROP_REASON, image_id))
                    dropped += 1
                    touched_posts.add(row["post_id"])
                elif not unrelated and row["status"] == "dropped" and row["drop_reason"] == DROP_REASON:
                    store.execute("UPDATE images SET status = 'kept', drop_reason = NULL WHERE image_id = ?", (image_id,))
                    restored += 1
            store.log_event("annotate", "images", f"{batch_id}: pulled {len(votes)} image choices",
                            batch_id=batch_id, dropped=dropped, restored=restored)
    bare = [post_id for post_id in sorted(touched_posts)
            if not store.scalar("SELECT 1 FROM images WHERE post_id = ? AND status = 'kept'", (post_id,))]
    return ImagePullReport([batch_id for batch_id, _ in fetched], votes_stored, dropped, restored, bare)
