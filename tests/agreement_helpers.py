"""Fill the core annotation tables the way `annotate pull` does, for agreement and adjudication tests."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from cmner_build.model import Span
from cmner_build.store import Store, utc_now

Versions = Mapping[str, Sequence[tuple[int, int, str]] | None]  # annotator -> spans; None = not confirmed


def add_posts(store: Store, texts: Mapping[str, str], status: str = "annotating", topic: str | None = None) -> None:
    now = utc_now()
    with store.transaction():
        store.connection.executemany(
            "INSERT OR IGNORE INTO posts (post_id, topic, source, original_text, text, status, created_at, updated_at)"
            " VALUES (?, ?, 'crawl', ?, ?, ?, ?, ?)",
            [(post_id, topic, text, text, status, now, now) for post_id, text in texts.items()],
        )


def add_batch(
    store: Store,
    batch_id: str,
    round_name: str,
    annotators: Iterable[str],
    posts: Mapping[str, tuple[str, Versions]],
) -> None:
    """One batch: its annotators, its posts (text + each annotator's spans) and their confirmations."""
    annotators = list(annotators)
    add_posts(store, {post_id: text for post_id, (text, _) in posts.items()})
    now = utc_now()
    with store.transaction():
        for name in annotators:
            store.execute("INSERT OR IGNORE INTO annotators (username, created_at) VALUES (?, ?)", (name, now))
        store.execute(
            "INSERT INTO batches (batch_id, round, project_name, created_at) VALUES (?, ?, ?, ?)",
            (batch_id, round_name, f"project {batch_id}", now),
        )
        store.connection.executemany("INSERT INTO batch_annotators (batch_id, annotator) VALUES (?, ?)",
                                     [(batch_id, name) for name in annotators])
        for post_id, (text, versions) in posts.items():
            store.execute("INSERT INTO batch_posts (batch_id, post_id, text) VALUES (?, ?, ?)", (batch_id, post_id, text))
            for name, spans in versions.items():
                confirmed = spans is not None
                store.execute(
                    "INSERT INTO annotations (batch_id, post_id, annotator, confirmed, pulled_at) VALUES (?, ?, ?, ?, ?)",
                    (batch_id, post_id, name, int(confirmed), now),
                )
                store.connection.executemany(
                    "INSERT INTO annotation_spans (batch_id, post_id, annotator, start, end, label) VALUES (?, ?, ?, ?, ?, ?)",
                    [(batch_id, post_id, name, start, end, label) for start, end, label in (spans or [])],
                )


def spans(*triples: tuple[int, int, str]) -> tuple[Span, ...]:
    return tuple(Span(*triple) for triple in triples)


def exported_line(record: dict, example_id: int, label: list | None = None, comments: Sequence[str] = ()) -> dict:
    """What Doccano's per-user export writes for an imported record (docs/doccano.md §4): id, text, the
    meta flattened to the top level, `label` sorted (the user's spans, UTF-16 offsets) and `Comments`."""
    meta = {key: value for key, value in record.items() if key not in ("text", "label")}
    spans = record["label"] if label is None else label
    return {"id": example_id, "text": record["text"], **meta, "label": sorted(spans), "Comments": list(comments)}


def export_zip(path, files: Mapping[str, Sequence[dict]]) -> None:
    """A zip shaped like Doccano's JSONL export: one `<username>.jsonl` per project member."""
    import json
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for username, lines in files.items():
            archive.writestr(f"{username}.jsonl", "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
