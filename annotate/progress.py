"""`annotate status`: progress per batch and annotator, from the store (as of the last pull) and,
optionally, live from Doccano (examples each member has marked done right now)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cmner_build.store import Store

from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoNotFound
from cmner_build.annotate.pull import count_complete_posts


@dataclass
class AnnotatorProgress:
    username: str
    pulled: int  # examples pulled (confirmed or not)
    confirmed: int  # examples confirmed, as of the last pull
    spans: int
    done_live: int | None = None  # confirmed on the server now (with --live)


@dataclass
class BatchProgress:
    batch_id: str
    round: str
    project_id: int | None
    project_name: str
    posts: int
    pushed: int  # posts with a Doccano example id
    annotated: int  # posts every annotator of the batch confirmed
    annotators: list[AnnotatorProgress] = field(default_factory=list)
    live_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_progress(store: Store, api: DoccanoAPI | None = None) -> list[BatchProgress]:
    batches: list[BatchProgress] = []
    for batch in store.query("SELECT * FROM batches ORDER BY CASE round WHEN 'pilot' THEN 0 WHEN 'main' THEN 1 "
                             "ELSE 2 END, batch_id"):
        batch_id = batch["batch_id"]
        counts = store.query("SELECT COUNT(*) AS posts, COUNT(example_id) AS pushed FROM batch_posts WHERE batch_id = ?",
                             (batch_id,))[0]
        if batch["round"] == "images":
            counts = store.query("SELECT COUNT(*) AS posts, COUNT(example_id) AS pushed FROM annotate_image_examples "
                                 "WHERE batch_id = ?", (batch_id,))[0]
        annotators = [
            AnnotatorProgress(row["annotator"], row["pulled"] or 0, row["confirmed"] or 0, row["spans"] or 0)
            for row in store.query(
                """SELECT ba.annotator,
                          (SELECT COUNT(*) FROM annotations a WHERE a.batch_id = ba.batch_id AND a.annotator = ba.annotator) AS pulled,
                          (SELECT SUM(confirmed) FROM annotations a WHERE a.batch_id = ba.batch_id AND a.annotator = ba.annotator) AS confirmed,
                          (SELECT COUNT(*) FROM annotation_spans s WHERE s.batch_id = ba.batch_id AND s.annotator = ba.annotator) AS spans
                   FROM batch_annotators ba WHERE ba.batch_id = ? ORDER BY ba.annotator""", (batch_id,))
        ]
        annotated = count_complete_posts(store, batch_id)
        if batch["round"] == "images":  # choices, not spans: count the images each annotator judged
            votes = dict(store.query("SELECT annotator, COUNT(*) FROM annotate_image_votes WHERE batch_id = ? "
                                     "GROUP BY annotator", (batch_id,)))
            for annotator in annotators:
                annotator.pulled = annotator.confirmed = votes.get(annotator.username, 0)
            annotated = store.scalar(
                "SELECT COUNT(*) FROM (SELECT image_id FROM annotate_image_votes WHERE batch_id = ? GROUP BY image_id "
                "HAVING COUNT(*) = ?)", (batch_id, len(annotators))) or 0
        progress = BatchProgress(batch_id, batch["round"], batch["project_id"], batch["project_name"],
                                 counts["posts"], counts["pushed"], annotated, annotators)
        if api is not None and batch["project_id"] is not None:
            try:
                done = api.member_progress(int(batch["project_id"]))
            except DoccanoNotFound:
                progress.live_error = f"project {batch['project_id']} is missing on {api.url}"
            else:
                for annotator in annotators:
                    annotator.done_live = done.get(annotator.username, 0)
        batches.append(progress)
    return batches


@dataclass
class GoldRunPoint:
    run_id: str
    model: str
    images: str
    gold_posts: int
    train_posts: int
    dev_f1: float


def gold_so_far_curve(store: Store) -> list[GoldRunPoint]:
    """Runs trained with `baseline ... --gold-so-far`, oldest first: how dev F1 grows with the gold."""
    return [GoldRunPoint(row["run_id"], row["model"], row["images"], row["gold_posts"], row["train_posts"],
                         row["dev_f1"])
            for row in store.query("SELECT * FROM gold_runs ORDER BY created_at, rowid")]
