"""The annotations agreement and adjudication read: posts that every assigned annotator confirmed.

Reads the core annotation tables written by `annotate pull` (core/0002_annotation): a post of a batch
counts only when each annotator in `batch_annotators` has an `annotations` row with confirmed = 1, so
"confirmed, no entities" (an empty version) differs from "not pulled yet" (no row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cmner_build.errors import CmnerError
from cmner_build.model import Span
from cmner_build.store import Store

from cmner_build.annotate.rounds import PILOT, TEXT_ROUNDS

SCOPES: tuple[str, ...] = ("pilot", "all")


@dataclass(frozen=True)
class AnnotatedPost:
    """One post of one batch with every assigned annotator's confirmed spans (code points, end exclusive)."""

    batch_id: str
    post_id: str
    text: str
    spans_by_annotator: dict[str, tuple[Span, ...]]

    @property
    def annotators(self) -> list[str]:
        return sorted(self.spans_by_annotator)


@dataclass
class AnnotationSet:
    posts: list[AnnotatedPost] = field(default_factory=list)
    incomplete: int = 0  # posts of the scope that some assigned annotator has not confirmed yet
    batches: list[str] = field(default_factory=list)


def _batches_in_scope(store: Store, scope: str, batch_id: str | None) -> list[str]:
    if scope not in SCOPES:
        raise CmnerError(f"unknown round {scope!r}; choose one of {', '.join(SCOPES)}")
    rounds = (PILOT,) if scope == "pilot" else TEXT_ROUNDS
    marks = ", ".join("?" for _ in rounds)
    rows = store.query(
        f"SELECT batch_id, round FROM batches WHERE round IN ({marks}) ORDER BY created_at, rowid", rounds
    )
    if batch_id is None:
        return [row["batch_id"] for row in rows]
    found = store.query("SELECT round FROM batches WHERE batch_id = ?", (batch_id,))
    if not found:
        raise CmnerError(f"no batch {batch_id!r} in this workspace (see `cmner-build annotate status`)")
    if found[0]["round"] not in rounds:
        raise CmnerError(f"batch {batch_id!r} is a {found[0]['round']} batch, not part of round {scope!r}")
    return [batch_id]


def load_annotated_posts(store: Store, scope: str = "all", batch_id: str | None = None) -> AnnotationSet:
    """Posts of the scope ('pilot' or 'all' = pilot and main) that all assigned annotators confirmed."""
    batches = _batches_in_scope(store, scope, batch_id)
    result = AnnotationSet(batches=batches)
    if not batches:
        return result
    wanted = set(batches)
    assigned: dict[str, list[str]] = {}
    for batch, annotator in _tuples(store, "SELECT batch_id, annotator FROM batch_annotators ORDER BY annotator"):
        if batch in wanted:
            assigned.setdefault(batch, []).append(annotator)
    confirmed: dict[tuple[str, str], set[str]] = {}
    for batch, post_id, annotator in _tuples(
        store, "SELECT batch_id, post_id, annotator FROM annotations WHERE confirmed = 1"
    ):
        if batch in wanted:
            confirmed.setdefault((batch, post_id), set()).add(annotator)
    spans: dict[tuple[str, str, str], list[Span]] = {}
    for batch, post_id, annotator, start, end, label in _tuples(
        store, "SELECT batch_id, post_id, annotator, start, end, label FROM annotation_spans"
    ):
        if batch in wanted:
            spans.setdefault((batch, post_id, annotator), []).append(Span(start, end, label))
    order = {batch: index for index, batch in enumerate(batches)}
    rows = sorted(
        (row for row in _tuples(store, "SELECT batch_id, post_id, text FROM batch_posts ORDER BY rowid")
         if row[0] in wanted),
        key=lambda row: order[row[0]],
    )
    for batch, post_id, text in rows:
        annotators = assigned.get(batch, [])
        done = confirmed.get((batch, post_id), set())
        if not annotators or not set(annotators) <= done:
            result.incomplete += 1
            continue
        versions = {name: tuple(sorted(set(spans.get((batch, post_id, name), ())))) for name in annotators}
        result.posts.append(AnnotatedPost(batch, post_id, text, versions))
    return result


def _tuples(store: Store, sql: str) -> list[tuple]:
    """Rows as plain tuples: much faster than sqlite3.Row for the tens of thousands of spans of a corpus."""
    cursor = store.connection.cursor()
    cursor.row_factory = None
    return cursor.execute(sql).fetchall()


def latest_version_per_post(posts: list[AnnotatedPost]) -> list[AnnotatedPost]:
    """One version set per post: the last batch (in batch order) that holds it completely."""
    latest: dict[str, AnnotatedPost] = {}
    for post in posts:
        latest.pop(post.post_id, None)
        latest[post.post_id] = post
    return list(latest.values())
