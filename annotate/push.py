"""Push posts to Doccano: plan batches in the store first, then make the server match the plan.

Idempotent by construction: the plan (batch, its annotators, its posts and their text) is committed
before anything is sent; projects are found by name before one is created; examples are found by the
post id in their meta before anything is uploaded; duplicates left by an interrupted import are
deleted. So a second run, or a run after a crash or a server outage half-way, finishes the job
without creating a second project or a second example for any post.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.store import Store
from cmner_build.safety import fault_point, holds_stage_lock

from cmner_build.annotate.agreement.runs import latest_pilot_gate
from cmner_build.annotate.batching import pilot_sample, rotate_triples, split_into_batches, uncertainty_order
from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoError, DoccanoNotFound
from cmner_build.annotate.doccano.examples import example_record
from cmner_build.annotate.doccano.projects import (
    SPAN_LABEL_STYLES, ensure_label_types, ensure_members, ensure_sequence_labeling_project, examples_by_post,
)
from cmner_build.annotate.rounds import ANNOTATE_LOCK, MAIN, TEXT_ROUNDS, corpus_key, last_batch_number
from cmner_build.annotate.suggestions import (
    SuggestionPlan, model_options, record_prefills, require_predictions, send_prefills,
)
from cmner_build.annotate.users import read_passwords, register_annotators

PILOT_BATCH_ID = "pilot"
UPLOAD_CHUNK = 1000


class PilotGateError(CmnerError):
    """The main rounds wait for a pilot that passed the agreement threshold."""


@dataclass
class BatchPush:
    batch_id: str
    round: str
    project_id: int
    project_name: str
    annotators: list[str]
    posts: int
    uploaded: int  # examples sent in this run
    already_there: int  # examples the server held before this run
    duplicates_removed: int = 0
    suggestions_sent: int = 0  # model spans put into annotators' copies in this run


@dataclass
class PushReport:
    url: str
    planned: list[str] = field(default_factory=list)  # batches created by this run
    batches: list[BatchPush] = field(default_factory=list)

    @property
    def uploaded(self) -> int:
        return sum(batch.uploaded for batch in self.batches)


# -- planning (store only) ------------------------------------------------------------------------


def project_name(store: Store, batch_id: str, prefix: str = "") -> str:
    return f"{prefix or 'cmner-' + corpus_key(store)} {batch_id}"


def unbatched_ready_posts(store: Store) -> list[str]:
    """Posts in status 'ready' that no pilot or main batch holds yet."""
    rows = store.query(
        """SELECT post_id FROM posts WHERE status = 'ready' AND post_id NOT IN (
               SELECT bp.post_id FROM batch_posts bp JOIN batches b USING (batch_id)
               WHERE b.round IN ('pilot', 'main'))
           ORDER BY post_id"""
    )
    return [row["post_id"] for row in rows]


def _create_batch(store: Store, batch_id: str, round_: str, name: str, annotators: Sequence[str],
                  post_ids: Sequence[str], meta: dict) -> None:
    """One transaction: the batch, its annotators and its posts with their text as pushed."""
    register_annotators(store, annotators)
    with store.transaction():
        texts = {row[0]: row[1] for row in store.query(
            f"SELECT post_id, text FROM posts WHERE post_id IN ({','.join('?' * len(post_ids))})", list(post_ids))}
        store.create_batch(batch_id, round_, name, annotators=annotators, meta=meta,
                           posts=[(post_id, texts[post_id], None) for post_id in post_ids if post_id in texts])
        store.log_event("annotate", "plan", f"planned {round_} batch {batch_id}: {len(post_ids)} posts, "
                        f"annotators {', '.join(annotators)}", batch_id=batch_id)


def plan_pilot(store: Store, pool: Sequence[str], size: int, seed: int, prefix: str = "") -> tuple[str, bool]:
    """The pilot batch: a seeded random sample of ready posts for every annotator of the pool.
    Returns (batch id, created now); an existing pilot is kept as it is (resume)."""
    if store.scalar("SELECT 1 FROM batches WHERE batch_id = ?", (PILOT_BATCH_ID,)):
        return PILOT_BATCH_ID, False
    if len(pool) < 2:
        raise CmnerError(f"the pilot needs at least two annotators in the pool (it has {len(pool)}): "
                         "add them with `cmner-build annotate users add NAME...` or [annotate] pool")
    candidates = unbatched_ready_posts(store)
    if not candidates:
        raise CmnerError("no post is in status 'ready': clean the corpus and check images first")
    sample = pilot_sample(candidates, size, seed)
    _create_batch(store, PILOT_BATCH_ID, "pilot", project_name(store, PILOT_BATCH_ID, prefix), list(pool), sample,
                  {"seed": seed, "requested_size": size})
    return PILOT_BATCH_ID, True


def require_pilot_passed(store: Store) -> str:
    gate = latest_pilot_gate(store)
    if not gate.passed:
        raise PilotGateError(
            f"main batches wait for a pilot that passed: {gate.why}. Run `cmner-build annotate pull` and "
            "`cmner-build agreement --round pilot` (mean pairwise strict span F1 must reach [agreement] "
            "pilot_threshold), retrain and repeat the pilot if needed, or pass --force to push anyway"
        )
    return gate.why


def plan_main_batches(store: Store, pool: Sequence[str], batch_size: int, per_post: int, seed: int,
                      prefix: str = "", *, order_run: str | None = None,
                      suggest: SuggestionPlan | None = None) -> list[str]:
    """New main batches from the ready posts no batch holds: seeded shuffle (topics mix across batches),
    or with `order_run` the posts that run is least sure of first (topic-balanced); chunks of batch_size,
    annotator groups continuing the balanced rotation. With `suggest`, each batch's pre-filled suggestions
    are recorded in the transaction that creates it. Returns the new batch ids."""
    candidates = unbatched_ready_posts(store)
    if not candidates:
        return []
    if len(pool) < per_post:
        raise CmnerError(f"each post needs {per_post} annotators but the pool has {len(pool)} "
                         f"({', '.join(pool) or 'nobody'}): add some with `cmner-build annotate users add`")
    if suggest is not None:
        require_predictions(store, suggest.run_id, candidates)
    if order_run is not None:
        margins = require_predictions(store, order_run, candidates)
        topics = {row["post_id"]: row["topic"] for row in store.query("SELECT post_id, topic FROM posts "
                                                                      "WHERE status = 'ready'")}
        candidates = uncertainty_order(margins, topics, seed)
    else:
        random.Random(seed).shuffle(candidates)
    chunks = split_into_batches(candidates, batch_size)
    existing = store.query("SELECT batch_id FROM batches WHERE round = 'main' ORDER BY batch_id")
    previous = [
        [row["annotator"] for row in store.query(
            "SELECT annotator FROM batch_annotators WHERE batch_id = ? ORDER BY annotator", (batch["batch_id"],))]
        for batch in existing
    ]
    groups = rotate_triples(pool, len(chunks), per_post, previous=previous)
    number = last_batch_number(store, MAIN)
    created = []
    meta: dict = {"seed": seed, "batch_size": batch_size}
    if order_run:
        meta.update(order="uncertainty", order_run=order_run)
    if suggest is not None:
        meta.update(suggest_run=suggest.run_id, min_confidence=suggest.min_confidence)
    for chunk, group in zip(chunks, groups):
        number += 1
        batch_id = f"batch-{number:04d}"
        with store.transaction():  # the batch and its suggestions, or neither
            _create_batch(store, batch_id, "main", project_name(store, batch_id, prefix), group, chunk, meta)
            if suggest is not None:
                record_prefills(store, batch_id, suggest)
        created.append(batch_id)
    return created


def unfinished_batches(store: Store, rounds: Sequence[str] = TEXT_ROUNDS) -> list[str]:
    """Batches whose project is not created yet or that hold a post without a Doccano example id
    (batches made by `pull --from-export` were annotated elsewhere and are never pushed)."""
    marks = ",".join("?" * len(rounds))
    rows = store.query(
        f"""SELECT b.batch_id FROM batches b WHERE b.round IN ({marks})
              AND json_extract(b.meta, '$.source') IS NOT 'export'  -- pulled from a hand-over zip: done elsewhere
              AND (b.project_id IS NULL OR EXISTS (
                SELECT 1 FROM batch_posts bp WHERE bp.batch_id = b.batch_id AND bp.example_id IS NULL))
            ORDER BY CASE b.round WHEN 'pilot' THEN 0 ELSE 1 END, b.batch_id""",
        list(rounds),
    )
    return [row["batch_id"] for row in rows]


# -- making the server match the plan -------------------------------------------------------------


def _batch_row(store: Store, batch_id: str):
    rows = store.query("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
    if not rows:
        raise CmnerError(f"no batch {batch_id!r} in the store")
    return rows[0]


def check_project(api: DoccanoAPI, batch_id: str, project_id: int, name: str) -> None:
    """The batch's recorded project must exist on this server under the recorded name."""
    try:
        project = api.get_project(project_id)
    except DoccanoNotFound:
        raise DoccanoNotFound(
            f"batch {batch_id}: its Doccano project {project_id} ({name!r}) is missing on {api.url}; it was "
            "deleted, or --url points at another server. The store is unchanged; restore the server or point "
            "--url at the right one"
        ) from None
    if project.get("name") != name:
        raise DoccanoError(
            f"batch {batch_id}: project {project_id} on {api.url} is called {project.get('name')!r}, not {name!r}; "
            "--url points at another server than the one this batch was pushed to"
        )


def push_batch(api: DoccanoAPI, store: Store, batch_id: str, guideline: str, *,
               upload_chunk: int = UPLOAD_CHUNK, progress: Callable[[int], None] | None = None) -> BatchPush:
    """Create (or find) the batch's project, its members and one example per post; record the ids."""
    batch = _batch_row(store, batch_id)
    annotators = [row["annotator"] for row in store.query(
        "SELECT annotator FROM batch_annotators WHERE batch_id = ? ORDER BY annotator", (batch_id,))]
    posts = {row["post_id"]: row["text"] for row in store.query(
        "SELECT post_id, text FROM batch_posts WHERE batch_id = ? ORDER BY post_id", (batch_id,))}
    name = batch["project_name"]
    fresh = False
    if batch["project_id"] is None:
        description = f"cmner-build {batch['round']} batch {batch_id}: {len(posts)} posts, annotators {', '.join(annotators)}"
        # Found by name when an earlier run created it but died before recording the id.
        known = {project["id"] for project in api.find_projects_by_name(name)}
        project_id = ensure_sequence_labeling_project(api, name, description=description, guideline=guideline)
        fresh = project_id not in known
        fault_point("push.project_created")
        with store.transaction():
            store.execute("UPDATE batches SET project_id = ?, meta = json_set(meta, '$.url', ?) WHERE batch_id = ?",
                          (project_id, api.url, batch_id))
    else:
        project_id = int(batch["project_id"])
        check_project(api, batch_id, project_id, name)
        ensure_sequence_labeling_project(api, name, description=name, guideline=guideline)
    ensure_members(api, project_id, annotators)

    held, removed = ({}, 0) if fresh else reconcile_examples(api, batch_id, project_id, posts)
    already = sum(1 for post_id in posts if post_id in held)
    missing = [post_id for post_id in posts if post_id not in held]
    for start in range(0, len(missing), upload_chunk):
        chunk = missing[start : start + upload_chunk]
        errors = api.upload_jsonl(project_id, [example_record(post_id, posts[post_id], batch_id=batch_id)
                                               for post_id in chunk], file_name=f"{batch_id}.jsonl")
        if errors:
            raise DoccanoError(f"batch {batch_id}: Doccano reported import errors: {errors[:3]}")
        fault_point("push.chunk_uploaded")
        if progress is not None:
            progress(len(chunk))
    final = held
    if missing:
        final, removed_after_upload = reconcile_examples(api, batch_id, project_id, posts)
        removed += removed_after_upload
    lost = [post_id for post_id in posts if post_id not in final]
    if lost:
        raise DoccanoError(f"batch {batch_id}: {len(lost)} posts are still missing in project {project_id} after "
                           f"the upload (e.g. {lost[0]}); run the push again")
    _record_examples(store, batch_id, {post_id: final[post_id][0][0] for post_id in posts})
    fault_point("push.batch_recorded")
    return BatchPush(batch_id, batch["round"], project_id, name, annotators, len(posts), len(missing), already, removed)


def reconcile_examples(api: DoccanoAPI, batch_id: str, project_id: int, posts: dict[str, str]) -> tuple[dict[str, list], int]:
    """What the project holds per post after deleting duplicate examples (the oldest one stays), and how
    many were deleted."""
    held = examples_by_post(api, project_id)
    duplicates = [example_id for entries in held.values() for example_id, _ in entries[1:]]
    if duplicates:
        api.delete_examples(project_id, duplicates)
        held = {post_id: entries[:1] for post_id, entries in held.items()}
    for post_id, entries in held.items():
        if post_id in posts and entries[0][1] != posts[post_id]:
            raise DoccanoError(
                f"batch {batch_id}, post {post_id}: the text of example {entries[0][0]} in project {project_id} "
                "differs from the text pushed; it was edited in Doccano. Restore it there, then push again"
            )
    return held, len(duplicates)


def _record_examples(store: Store, batch_id: str, example_ids: dict[str, int]) -> None:
    """Example ids into batch_posts; pushed posts go from 'ready' to 'annotating'."""
    with store.transaction():
        store.connection.executemany(
            "UPDATE batch_posts SET example_id = ? WHERE batch_id = ? AND post_id = ?",
            [(example_id, batch_id, post_id) for post_id, example_id in example_ids.items()],
        )
        store.start_annotating(example_ids)
        store.log_event("annotate", "push", f"batch {batch_id}: {len(example_ids)} examples in Doccano",
                        batch_id=batch_id)


@holds_stage_lock(ANNOTATE_LOCK)
def push(api: DoccanoAPI, store: Store, *, pool: Sequence[str], guideline: str, seed: int,
         pilot_size: int | None = None, batch_size: int = 100, per_post: int = 3, force: bool = False,
         prefix: str = "", upload_chunk: int = UPLOAD_CHUNK, order_run: str | None = None,
         suggest: SuggestionPlan | None = None, passwords: dict[str, str] | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> PushReport:
    """`annotate push`: plan the pilot (pilot_size given) or the main batches, then push every unfinished
    batch. progress(batch_id, posts_done, posts_total) is called as examples go up.

    order_run: batch the posts that run is least sure of first; suggest: pre-fill each annotator's copy
    with that run's spans (as the annotator: `passwords` {annotator: password}). Never for the pilot."""
    if pilot_size is not None:
        refuse_model_in_pilot(suggest is not None, order_run is not None)
    report = PushReport(api.url)
    if pilot_size is not None:
        batch_id, created = plan_pilot(store, pool, pilot_size, seed, prefix)
        if created:
            report.planned.append(batch_id)
        todo = [batch_id] if batch_id in unfinished_batches(store) else []
    else:
        if not force:
            require_pilot_passed(store)
        report.planned += plan_main_batches(store, pool, batch_size, per_post, seed, prefix, order_run=order_run,
                                            suggest=suggest)
        todo = [batch_id for batch_id in unfinished_batches(store) if batch_id != PILOT_BATCH_ID]
    for batch_id in todo:
        total = store.scalar("SELECT COUNT(*) FROM batch_posts WHERE batch_id = ?", (batch_id,))
        done = [0]

        def advance(n: int, batch_id: str = batch_id, total: int = total, done: list = done) -> None:
            done[0] += n
            if progress is not None:
                progress(batch_id, done[0], total)

        pushed = push_batch(api, store, batch_id, guideline, upload_chunk=upload_chunk, progress=advance)
        if store.scalar("SELECT 1 FROM annotate_prefills WHERE batch_id = ? AND sent = 0", (batch_id,)):
            label_ids = ensure_label_types(api, pushed.project_id, "span", SPAN_LABEL_STYLES)
            pushed.suggestions_sent = send_prefills(store, batch_id, api.url, label_ids, passwords or {})
        report.batches.append(pushed)
    return report


@dataclass
class ModelInTheLoop:
    """`push`'s model options, checked: the run ordering the posts, the suggestion plan, the passwords."""

    order_run: str | None = None
    suggest: SuggestionPlan | None = None
    passwords: dict[str, str] = field(default_factory=dict)


def model_in_the_loop(store: Store, *, pilot: bool, suggest: str | None, min_confidence: float | None,
                      order: str, run: str | None, password_file: Path) -> ModelInTheLoop:
    """Check `push --suggest / --min-confidence / --order / RUN` before anything is sent: never for the
    pilot; the runs have predictions of every post to batch; the annotators' passwords when pre-filling
    (read whenever the file exists, so an interrupted pre-fill can finish)."""
    if pilot:
        refuse_model_in_pilot(suggest is not None, order != "random")
    order_run, plan = model_options(store, suggest=suggest, min_confidence=min_confidence, order=order, run=run)
    passwords = read_passwords(password_file) if plan is not None or password_file.is_file() else {}
    if not pilot:
        require_run_predictions(store, order_run, plan)
    return ModelInTheLoop(order_run, plan, passwords)


def require_run_predictions(store: Store, order_run: str | None, suggest: SuggestionPlan | None) -> None:
    """Before logging in: the runs named must have predictions of every ready post not batched yet."""
    candidates = unbatched_ready_posts(store)
    for run_id in {order_run, suggest.run_id if suggest is not None else None} - {None}:
        require_predictions(store, run_id, candidates)


def refuse_model_in_pilot(suggest: bool, ordered: bool) -> None:
    """The pilot measures people: no model suggestions in it, and it stays a random sample."""
    if suggest:
        raise CmnerError("the pilot is never pre-filled with model suggestions: its agreement must measure the "
                         "annotators, not the model. Push the pilot without --suggest")
    if ordered:
        raise CmnerError("the pilot is a random sample of the ready posts: --order uncertainty is for main batches")
