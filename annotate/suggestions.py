"""Model suggestions for the annotators: which run, which spans, and what became of each.

`predict RUN` stores a run's predictions (`run_predictions`: text and mean margin per post;
`run_suggestions`: spans and confidences). From them:

* `annotate push --suggest RUN [--min-confidence X]` records, in the transaction that creates a main
  batch, the spans of RUN at or above X for every annotator of the batch (`annotate_prefills`,
  `annotate_suggestions`), then puts them into each annotator's copy in Doccano as that annotator
  (unconfirmed: the annotator accepts, corrects or deletes them). The pilot is never pre-filled.
* `annotate push --order uncertainty RUN` batches the posts RUN is least sure of first, topic-balanced
  (`batching.uncertainty_order`).
* `annotate pull` marks, once an annotator has confirmed a pre-filled post, each suggestion **kept**
  (the same span and label is in the annotator's work), **changed** (not kept, but an annotator span
  overlaps it: boundary or type corrected) or **deleted** (nothing overlaps it), and counts the spans
  **added** (annotator spans that overlap no suggestion). `agreement` reports these per annotator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.model import Span
from cmner_build.store import Store

from cmner_build.annotate.settings import DEFAULT_MIN_CONFIDENCE


@dataclass
class SuggestionPlan:
    run_id: str
    min_confidence: float


OUTCOMES = ("kept", "changed", "deleted")
ORDERS = ("random", "uncertainty")


def model_options(store: Store, *, suggest: str | None, min_confidence: float | None, order: str,
                  run: str | None) -> tuple[str | None, SuggestionPlan | None]:
    """(run ordering the posts or None, suggestion plan or None) from `push`'s options, runs resolved."""
    if order not in ORDERS:
        raise CmnerError(f"--order must be one of {', '.join(ORDERS)}, not {order!r}")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise CmnerError(f"--min-confidence must be between 0 and 1, not {min_confidence}")
    if min_confidence is not None and suggest is None:
        raise CmnerError("--min-confidence goes with --suggest RUN")
    if run is not None and order != "uncertainty":
        raise CmnerError(f"a run ({run}) is only taken with --order uncertainty (use --suggest RUN for suggestions)")
    plan = None
    if suggest is not None:
        plan = SuggestionPlan(resolve_predicted_run(store, suggest),
                              DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence)
    order_run = None
    if order == "uncertainty":
        if run is None and plan is None:
            raise CmnerError("--order uncertainty needs a run: `annotate push --order uncertainty RUN`")
        order_run = resolve_predicted_run(store, run) if run is not None else plan.run_id
    return order_run, plan


def resolve_predicted_run(store: Store, name: str) -> str:
    """A run id that has predictions in the store, from an id, a unique id prefix or a run folder path."""
    candidate = name.rstrip("/").rsplit("/", 1)[-1]
    runs = [row[0] for row in store.query("SELECT DISTINCT run_id FROM run_predictions")]
    if candidate in runs:
        return candidate
    matches = sorted(run for run in runs if run.startswith(candidate))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CmnerError(f"{name!r} matches {len(matches)} runs with predictions: {', '.join(matches[:5])}")
    raise CmnerError(f"run {name!r} has no predictions in this workspace: run `cmner-build predict {name} "
                     "--posts ready` first")


def require_predictions(store: Store, run_id: str, post_ids: Sequence[str]) -> dict[str, float]:
    """{post id: mean margin} of RUN for these posts; every post must have a prediction on its current text."""
    rows = {row["post_id"]: (row["margin"], bool(row["same"])) for row in store.query(
        "SELECT rp.post_id, rp.margin, rp.text = p.text AS same FROM run_predictions rp JOIN posts p USING (post_id) "
        "WHERE rp.run_id = ?", (run_id,))}
    missing = [post_id for post_id in post_ids if post_id not in rows]
    stale = [post_id for post_id in post_ids if post_id in rows and not rows[post_id][1]]
    if missing or stale:
        example = (missing or stale)[0]
        raise CmnerError(
            f"{len(missing)} posts have no prediction of run {run_id} and {len(stale)} were predicted on another "
            f"text (e.g. {example}): run `cmner-build predict {run_id} --posts ready` first; nothing was pushed")
    return {post_id: rows[post_id][0] for post_id in post_ids}


def record_prefills(store: Store, batch_id: str, plan: SuggestionPlan) -> int:
    """Inside the batch's creating transaction: the run's spans at or above the threshold, for every
    annotator of the batch and every post (a post with none is recorded too). Returns the span rows."""
    store.execute(
        "INSERT INTO annotate_prefills (batch_id, post_id, annotator, run_id, min_confidence) "
        "SELECT bp.batch_id, bp.post_id, ba.annotator, ?, ? FROM batch_posts bp "
        "JOIN batch_annotators ba USING (batch_id) WHERE bp.batch_id = ?",
        (plan.run_id, plan.min_confidence, batch_id))
    cursor = store.execute(
        "INSERT INTO annotate_suggestions (batch_id, post_id, annotator, start, end, label, confidence) "
        "SELECT ap.batch_id, ap.post_id, ap.annotator, rs.start, rs.end, rs.label, rs.confidence "
        "FROM annotate_prefills ap JOIN run_suggestions rs ON rs.run_id = ap.run_id AND rs.post_id = ap.post_id "
        "WHERE ap.batch_id = ? AND rs.confidence >= ?", (batch_id, plan.min_confidence))
    return cursor.rowcount


def unsent_prefills(store: Store, batch_id: str) -> dict[str, dict[str, list[Span]]]:
    """{annotator: {post id: suggested spans}} not yet in Doccano."""
    result: dict[str, dict[str, list[Span]]] = {}
    for row in store.query("SELECT annotator, post_id FROM annotate_prefills WHERE batch_id = ? AND sent = 0 "
                           "ORDER BY annotator, post_id", (batch_id,)):
        result.setdefault(row["annotator"], {})[row["post_id"]] = []
    for row in store.query("SELECT s.annotator, s.post_id, s.start, s.end, s.label FROM annotate_suggestions s "
                           "JOIN annotate_prefills p USING (batch_id, post_id, annotator) "
                           "WHERE s.batch_id = ? AND p.sent = 0", (batch_id,)):
        result[row["annotator"]][row["post_id"]].append(Span(row["start"], row["end"], row["label"]))
    return result


def send_prefills(store: Store, batch_id: str, url: str, label_ids: dict[str, int], passwords: dict[str, str],
                  login: Callable[[str, str, str], object] | None = None) -> int:
    """Put each annotator's unsent suggestions into their copy in Doccano, logged in as them (a span
    belongs to whoever makes it). Each post is marked sent once its spans are there. Returns spans created."""
    from cmner_build.annotate.doccano.api import DoccanoAPI
    from cmner_build.annotate.doccano.prefill import prefill_example

    todo = unsent_prefills(store, batch_id)
    if not todo:
        return 0
    without = sorted(annotator for annotator in todo if annotator not in passwords)
    if without:
        raise CmnerError(
            f"batch {batch_id}: suggestions are made in Doccano as each annotator (a span belongs to its maker), "
            f"and no password is known for {', '.join(without)}: keep `annotate users add`'s password file "
            "([annotate] password_file) until the batch is pre-filled, or pass --password-file")
    project_id = store.scalar("SELECT project_id FROM batches WHERE batch_id = ?", (batch_id,))
    examples = {row["post_id"]: (row["example_id"], row["text"]) for row in store.query(
        "SELECT post_id, example_id, text FROM batch_posts WHERE batch_id = ?", (batch_id,))}
    login = login or DoccanoAPI.login
    created = 0
    for annotator, posts in todo.items():
        api = login(url, annotator, passwords[annotator])
        try:
            for post_id, spans in posts.items():
                example_id, text = examples[post_id]
                created += prefill_example(api, int(project_id), int(example_id), text, spans, label_ids)
                with store.transaction():
                    store.execute("UPDATE annotate_prefills SET sent = 1 WHERE batch_id = ? AND post_id = ? "
                                  "AND annotator = ?", (batch_id, post_id, annotator))
        finally:
            api.close()
    return created


def suggestion_outcomes(suggested: Sequence[Span], final: Sequence[Span]) -> tuple[dict[Span, str], int]:
    """({suggestion: kept|changed|deleted}, spans added) for one annotator's confirmed work on one post."""
    final_set = set(final)

    def overlaps(a: Span, b: Span) -> bool:
        return a.start < b.end and b.start < a.end

    outcomes = {}
    for span in suggested:
        if span in final_set:
            outcomes[span] = "kept"
        elif any(overlaps(span, other) for other in final):
            outcomes[span] = "changed"
        else:
            outcomes[span] = "deleted"
    added = sum(1 for span in final if not any(overlaps(span, other) for other in suggested))
    return outcomes, added


def mark_outcomes(store: Store, batch_id: str) -> None:
    """Inside pull's transaction: outcomes of the batch's suggestions for confirmed posts, NULL otherwise."""
    prefills = store.query(
        "SELECT p.post_id, p.annotator, COALESCE(a.confirmed, 0) AS confirmed FROM annotate_prefills p "
        "LEFT JOIN annotations a USING (batch_id, post_id, annotator) WHERE p.batch_id = ? AND p.sent = 1",
        (batch_id,))
    for prefill in prefills:
        key = (batch_id, prefill["post_id"], prefill["annotator"])
        suggested = [Span(r["start"], r["end"], r["label"]) for r in store.query(
            "SELECT start, end, label FROM annotate_suggestions WHERE batch_id = ? AND post_id = ? AND annotator = ?",
            key)]
        if not prefill["confirmed"]:
            store.execute("UPDATE annotate_suggestions SET outcome = NULL WHERE batch_id = ? AND post_id = ? "
                          "AND annotator = ?", key)
            store.execute("UPDATE annotate_prefills SET added = NULL WHERE batch_id = ? AND post_id = ? "
                          "AND annotator = ?", key)
            continue
        final = [Span(r["start"], r["end"], r["label"]) for r in store.query(
            "SELECT start, end, label FROM annotation_spans WHERE batch_id = ? AND post_id = ? AND annotator = ?", key)]
        outcomes, added = suggestion_outcomes(suggested, final)
        store.connection.executemany(
            "UPDATE annotate_suggestions SET outcome = ? WHERE batch_id = ? AND post_id = ? AND annotator = ? "
            "AND start = ? AND end = ? AND label = ?",
            [(outcome, *key, span.start, span.end, span.label) for span, outcome in outcomes.items()])
        store.execute("UPDATE annotate_prefills SET added = ? WHERE batch_id = ? AND post_id = ? AND annotator = ?",
                      (added, *key))


def suggestion_counts(store: Store, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per annotator, over the confirmed pre-filled posts of these batches: posts, suggested, kept,
    changed, deleted, added. Empty when none of the batches was pre-filled."""
    if not batch_ids:
        return {}
    marks = ",".join("?" * len(batch_ids))
    counts: dict[str, dict[str, int]] = {}
    for row in store.query(
            f"SELECT annotator, COUNT(*) AS posts, SUM(added) AS added FROM annotate_prefills "
            f"WHERE batch_id IN ({marks}) AND added IS NOT NULL GROUP BY annotator ORDER BY annotator",
            list(batch_ids)):
        counts[row["annotator"]] = {"posts": row["posts"], "suggested": 0, **{o: 0 for o in OUTCOMES},
                                    "added": row["added"] or 0}
    for row in store.query(
            f"SELECT annotator, outcome, COUNT(*) AS n FROM annotate_suggestions WHERE batch_id IN ({marks}) "
            f"AND outcome IS NOT NULL GROUP BY annotator, outcome", list(batch_ids)):
        counts[row["annotator"]][row["outcome"]] = row["n"]
        counts[row["annotator"]]["suggested"] += row["n"]
    return counts
