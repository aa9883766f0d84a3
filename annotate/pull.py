"""Pull annotations: per-annotator spans (code points) and confirmations into the store.

Everything is fetched and validated first, then written in one transaction: a bad span anywhere
(offset outside the text, inside a surrogate pair, unknown label, overlap, text changed) stops the pull
with a message naming batch, post and annotator, and the store stays exactly as it was.

Rows written: `annotations` gets one row per annotator and example pulled (confirmed 1 = the annotator
marked it done; 0 = not done yet, its spans are work in progress); `annotation_spans` the spans. A post
becomes 'annotated' once every annotator of its batch has confirmed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from cmner_build.errors import CmnerError, FormatError
from cmner_build.model import Span, validate_spans
from cmner_build.store import Store, utc_now
from cmner_build.safety import holds_stage_lock

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.examples import META_ROUND, ExportedExample, ZipLimits, read_export_zip
from cmner_build.annotate.push import check_project
from cmner_build.annotate.rounds import ADJUDICATION, ANNOTATE_LOCK, TEXT_ROUNDS
from cmner_build.annotate.suggestions import mark_outcomes
from cmner_build.annotate.users import check_usernames, register_annotators


class BadAnnotation(CmnerError):
    """A span or example from Doccano does not fit the text that was pushed."""


@dataclass
class AnnotatorWork:
    """One annotator's pulled work on one post."""

    confirmed: bool
    spans: list[Span]


@dataclass
class BatchPull:
    """What was fetched for one batch, validated, not yet stored."""

    batch_id: str
    work: dict[str, dict[str, AnnotatorWork]]  # annotator -> post id -> work
    missing_annotators: list[str] = field(default_factory=list)  # no file for them in the export
    ignored: list[str] = field(default_factory=list)  # notes on lines that belong to no post of the batch


@dataclass
class BatchSummary:
    batch_id: str
    posts: int
    confirmed: dict[str, int]  # annotator -> posts confirmed
    spans: dict[str, int]  # annotator -> spans (confirmed or not)
    annotated: int  # posts every annotator confirmed
    missing_annotators: list[str]


@dataclass
class PullReport:
    batches: list[BatchSummary]
    posts_annotated: int  # posts that became 'annotated' in this pull
    posts_reopened: int  # 'annotated' posts back to 'annotating' (an annotator un-confirmed)
    notes: list[str] = field(default_factory=list)


# -- validation -----------------------------------------------------------------------------------


def validate_example(batch_id: str, example: ExportedExample, pushed_text: str) -> list[Span]:
    """The example's spans, checked against the text as pushed; BadAnnotation names batch, post, annotator."""
    where = f"batch {batch_id}, post {example.post_id}, annotator {example.username}"
    if example.text is not None and example.text != pushed_text:
        raise BadAnnotation(f"{where}: the text in Doccano differs from the text pushed "
                            f"({len(example.text)} vs {len(pushed_text)} characters); nothing was stored")
    if example.problems:
        raise BadAnnotation(f"{where}: {example.problems[0]} (text of {len(pushed_text)} characters); nothing was stored")
    problems = validate_spans(pushed_text, example.spans)
    if problems:
        raise BadAnnotation(f"{where}: {problems[0]}; nothing was stored")
    return list(example.spans)


def collect_batch(store: Store, batch_id: str, files: dict[str, list[ExportedExample]],
                  confirmed_posts: dict[str, set[str]] | None) -> BatchPull:
    """Match one batch's export files to its posts and validate every span.

    confirmed_posts: {annotator: post ids they confirmed} from the server; None means "every line in a
    file is confirmed" (a hand-over zip exported with only the examples each annotator marked done)."""
    texts = {row["post_id"]: (row["text"], row["example_id"]) for row in store.query(
        "SELECT post_id, text, example_id FROM batch_posts WHERE batch_id = ?", (batch_id,))}
    annotators = [row["annotator"] for row in store.query(
        "SELECT annotator FROM batch_annotators WHERE batch_id = ? ORDER BY annotator", (batch_id,))]
    pull = BatchPull(batch_id, {})
    from_server = confirmed_posts is not None
    for annotator in annotators:
        examples = files.get(annotator)
        if examples is None:
            pull.missing_annotators.append(annotator)
            continue
        work: dict[str, AnnotatorWork] = {}
        for example in examples:
            post_id = example.post_id
            if post_id is None or post_id not in texts:
                pull.ignored.append(f"{annotator}.jsonl line {example.line}: post {post_id!r} is not in batch {batch_id}")
                continue
            text, example_id = texts[post_id]
            # From the server, a second example of a post is a duplicate upload; a hand-over zip may come
            # from another server, whose example ids mean nothing here.
            if (from_server and example_id is not None and example.example_id is not None
                    and int(example.example_id) != example_id):
                pull.ignored.append(f"{annotator}.jsonl line {example.line}: example {example.example_id} is a "
                                    f"duplicate of post {post_id} (the batch's example is {example_id})")
                continue
            spans = validate_example(batch_id, example, text)
            confirmed = not from_server or post_id in confirmed_posts.get(annotator, set())
            work[post_id] = AnnotatorWork(confirmed, spans)
        pull.work[annotator] = work
    return pull


def fetch_batch(api: DoccanoAPI, store: Store, batch_id: str) -> BatchPull:
    """Two exports of the batch's project: everything (spans, also unconfirmed) and confirmed only."""
    row = store.query("SELECT project_id, project_name FROM batches WHERE batch_id = ?", (batch_id,))[0]
    if row["project_id"] is None:
        raise CmnerError(f"batch {batch_id} has no Doccano project yet: run `cmner-build annotate push` first")
    check_project(api, batch_id, int(row["project_id"]), row["project_name"])
    everything = read_export_zip(api.export_zip(int(row["project_id"])))
    confirmed_files = read_export_zip(api.export_zip(int(row["project_id"]), confirmed_only=True))
    confirmed = {user: {example.post_id for example in examples if example.post_id is not None}
                 for user, examples in confirmed_files.items()}
    return collect_batch(store, batch_id, everything, confirmed)


# -- storing --------------------------------------------------------------------------------------


def store_pulls(store: Store, pulls: Sequence[BatchPull]) -> PullReport:
    """Replace each pulled annotator's rows of each batch, then move post statuses; one transaction."""
    now = utc_now()
    annotated = reopened = 0
    summaries: list[BatchSummary] = []
    with store.transaction():
        for pull in pulls:
            for annotator, work in pull.work.items():
                store.execute("DELETE FROM annotations WHERE batch_id = ? AND annotator = ?", (pull.batch_id, annotator))
                store.connection.executemany(
                    "INSERT INTO annotations (batch_id, post_id, annotator, confirmed, pulled_at) VALUES (?, ?, ?, ?, ?)",
                    [(pull.batch_id, post_id, annotator, int(item.confirmed), now) for post_id, item in work.items()],
                )
                store.connection.executemany(
                    "INSERT INTO annotation_spans (batch_id, post_id, annotator, start, end, label) VALUES (?, ?, ?, ?, ?, ?)",
                    [(pull.batch_id, post_id, annotator, span.start, span.end, span.label)
                     for post_id, item in work.items() for span in item.spans],
                )
            mark_outcomes(store, pull.batch_id)
            newly, back = _update_statuses(store, pull.batch_id, now)
            annotated += newly
            reopened += back
            summaries.append(summarize_batch(store, pull.batch_id, pull.missing_annotators))
            store.log_event("annotate", "pull", f"batch {pull.batch_id}: pulled {len(pull.work)} annotators",
                            batch_id=pull.batch_id, annotators=sorted(pull.work))
    notes = [note for pull in pulls for note in pull.ignored]
    return PullReport(summaries, annotated, reopened, notes)


def complete_post_ids(store: Store, batch_id: str) -> set[str]:
    """Posts of the batch that every one of its assigned annotators has confirmed (as of the last pull)."""
    return {row[0] for row in store.query(
        "SELECT a.post_id FROM annotations a JOIN batch_annotators ba "
        "ON ba.batch_id = a.batch_id AND ba.annotator = a.annotator "
        "WHERE a.batch_id = ? AND a.confirmed = 1 GROUP BY a.post_id "
        "HAVING COUNT(*) = (SELECT COUNT(*) FROM batch_annotators WHERE batch_id = ?)", (batch_id, batch_id))}


def _update_statuses(store: Store, batch_id: str, now: str) -> tuple[int, int]:
    """'annotating' -> 'annotated' when every batch annotator confirmed; back when one no longer has."""
    complete = complete_post_ids(store, batch_id)
    statuses = store.query(
        "SELECT bp.post_id, p.status FROM batch_posts bp JOIN posts p USING (post_id) WHERE bp.batch_id = ?",
        (batch_id,))
    done = [row[0] for row in statuses if row[1] in ("ready", "annotating") and row[0] in complete]
    undone = [row[0] for row in statuses if row[1] == "annotated" and row[0] not in complete]
    store.finish_annotating(done, now)
    store.reopen_annotating(undone, now)
    return len(done), len(undone)


def summarize_batch(store: Store, batch_id: str, missing: Iterable[str] = ()) -> BatchSummary:
    posts = store.scalar("SELECT COUNT(*) FROM batch_posts WHERE batch_id = ?", (batch_id,))
    confirmed = {row["annotator"]: row["n"] for row in store.query(
        "SELECT ba.annotator, COUNT(a.post_id) AS n FROM batch_annotators ba LEFT JOIN annotations a "
        "ON a.batch_id = ba.batch_id AND a.annotator = ba.annotator AND a.confirmed = 1 "
        "WHERE ba.batch_id = ? GROUP BY ba.annotator ORDER BY ba.annotator", (batch_id,))}
    spans = {row["annotator"]: row["n"] for row in store.query(
        "SELECT annotator, COUNT(*) AS n FROM annotation_spans WHERE batch_id = ? GROUP BY annotator", (batch_id,))}
    return BatchSummary(batch_id, posts, confirmed, {a: spans.get(a, 0) for a in confirmed},
                        count_complete_posts(store, batch_id), list(missing))


def count_complete_posts(store: Store, batch_id: str) -> int:
    """Posts of the batch that every one of its annotators has confirmed (as of the last pull)."""
    return len(complete_post_ids(store, batch_id))


# -- entry points ---------------------------------------------------------------------------------


def refuse_other_rounds(batch_id: str, round_: str) -> None:
    """Only pilot and main batches hold annotators' work; the others are pulled by their own commands."""
    if round_ == ADJUDICATION:
        raise CmnerError(f"batch {batch_id} is an adjudication project: its examples are the adjudicator's decisions, "
                         "not annotations; apply them with `cmner-build adjudicate pull`")
    if round_ not in TEXT_ROUNDS:
        raise CmnerError(f"batch {batch_id} is an {round_} round: `cmner-build annotate pull` without --batch "
                         "pulls its choices")


def text_batches(store: Store, batch_ids: Sequence[str] | None = None) -> list[str]:
    """The pilot and main batches to pull: the given ones (each must be one), or every pushed one."""
    if batch_ids:
        known = {row["batch_id"]: row["round"] for row in store.query("SELECT batch_id, round FROM batches")}
        for batch_id in batch_ids:
            if batch_id not in known:
                raise CmnerError(f"no batch {batch_id!r} in the store (see `cmner-build annotate status`)")
            refuse_other_rounds(batch_id, known[batch_id])
        return list(batch_ids)
    marks = ",".join("?" * len(TEXT_ROUNDS))
    return [row[0] for row in store.query(
        f"SELECT batch_id FROM batches WHERE round IN ({marks}) AND project_id IS NOT NULL ORDER BY batch_id",
        list(TEXT_ROUNDS))]


@holds_stage_lock(ANNOTATE_LOCK)
def pull_from_server(api: DoccanoAPI, store: Store, batch_ids: Sequence[str] | None = None) -> PullReport:
    """`annotate pull`: every pushed pilot/main batch (or the given ones), all fetched before any is stored."""
    pulls = [fetch_batch(api, store, batch_id) for batch_id in text_batches(store, batch_ids)]
    return store_pulls(store, pulls)


@holds_stage_lock(ANNOTATE_LOCK)
def pull_from_export(store: Store, zip_path: Path, *, batch_id: str | None = None, round_: str | None = None,
                     exclude_users: Sequence[str] = ("admin",), limits: ZipLimits = ZipLimits()) -> PullReport:
    """`annotate pull --from-export ZIP`: the same from a per-user export zip handed over (works offline).

    Every line of `<username>.jsonl` counts as confirmed (export with "only approved documents" so each
    file holds what that annotator marked done). Examples are matched to posts by the post id in meta.
    Without --batch the batch holding those posts is found; a batch that does not exist yet is created
    (round from `round_`, annotators = the users in the zip), so this also works without a server."""
    files = {user: examples for user, examples in read_export_zip(Path(zip_path), limits=limits).items() if user not in exclude_users}
    if not files:
        raise FormatError(f"the zip holds only files of excluded users ({', '.join(exclude_users)})", zip_path)
    if any(example.meta.get(META_ROUND) == ADJUDICATION for examples in files.values() for example in examples):
        raise CmnerError(f"{zip_path} is the export of an adjudication project: its examples are decisions, not "
                         f"annotations; apply it with `cmner-build adjudicate pull --from-export {zip_path}`. "
                         "Nothing was stored")
    post_ids = sorted({example.post_id for examples in files.values() for example in examples if example.post_id})
    if not post_ids:
        raise FormatError("no line carries a post_id in its meta; was it exported from a cmner-build project?", zip_path)
    if batch_id is None:
        batch_id = _batch_holding(store, post_ids, zip_path)
    existing = store.query("SELECT round FROM batches WHERE batch_id = ?", (batch_id,))
    if existing:
        refuse_other_rounds(batch_id, existing[0]["round"])
        if round_ is not None and existing[0]["round"] != round_:
            raise CmnerError(f"batch {batch_id} is a {existing[0]['round']} batch, not {round_}")
        annotators = {row[0] for row in store.query(
            "SELECT annotator FROM batch_annotators WHERE batch_id = ?", (batch_id,))}
        strangers = sorted(set(files) - annotators)
        if strangers:
            raise CmnerError(f"{zip_path}: {', '.join(strangers)} not annotators of batch {batch_id} "
                             f"(they are {', '.join(sorted(annotators))}); nothing was stored")
        pulls = [collect_batch(store, batch_id, files, None)]
        return store_pulls(store, pulls)
    round_ = round_ or ("pilot" if batch_id == "pilot" else "main")
    if round_ not in TEXT_ROUNDS:
        raise CmnerError(f"--round must be pilot or main, not {round_!r}")
    texts = _texts_in_zip(store, files, zip_path)
    with store.transaction():  # batch creation and the pull commit together, or not at all
        register_annotators(store, check_usernames(sorted(files)))
        store.create_batch(batch_id, round_, Path(zip_path).stem, annotators=sorted(files),
                           posts=[(post_id, text, example_id) for post_id, (text, example_id) in texts.items()],
                           meta={"source": "export", "zip": Path(zip_path).name})
        store.start_annotating(texts)
        return store_pulls(store, [collect_batch(store, batch_id, files, None)])


def _batch_holding(store: Store, post_ids: Sequence[str], zip_path: Path) -> str:
    marks = ",".join("?" * len(post_ids))
    rounds = ",".join("?" * len(TEXT_ROUNDS))
    batches = [row[0] for row in store.query(
        f"SELECT DISTINCT bp.batch_id FROM batch_posts bp JOIN batches b USING (batch_id) "
        f"WHERE bp.post_id IN ({marks}) AND b.round IN ({rounds}) ORDER BY bp.batch_id",
        [*post_ids, *TEXT_ROUNDS])]
    if len(batches) == 1:
        return batches[0]
    if not batches:
        raise CmnerError(f"{zip_path}: no batch holds these posts yet; pass --batch ID --round pilot|main to create one")
    raise CmnerError(f"{zip_path}: its posts are in several batches ({', '.join(batches)}); choose one with --batch")


def _texts_in_zip(store: Store, files: dict[str, list[ExportedExample]], zip_path: Path) -> dict[str, tuple[str, int | None]]:
    """{post id: (text, example id)} for a new batch; every post must exist with exactly this text."""
    current = {}
    for user, examples in files.items():
        for example in examples:
            if example.post_id is None:
                continue
            if example.text is None:
                raise FormatError(f"{user}.jsonl line {example.line}: no text", zip_path)
            seen = current.get(example.post_id)
            if seen is not None and seen[0] != example.text:
                raise FormatError(f"{user}.jsonl line {example.line}: post {example.post_id} has another text "
                                  "than in another annotator's file", zip_path)
            current[example.post_id] = (example.text, example.example_id)
    marks = ",".join("?" * len(current))
    stored = {row["post_id"]: row["text"] for row in store.query(
        f"SELECT post_id, text FROM posts WHERE post_id IN ({marks})", list(current))}
    for post_id, (text, _) in sorted(current.items()):
        if post_id not in stored:
            raise FormatError(f"post {post_id} is not in this workspace; nothing was stored", zip_path)
        if stored[post_id] != text:
            raise FormatError(f"post {post_id}: the text in the zip differs from the post's current text; "
                              "nothing was stored", zip_path)
    return current
