"""What goes into Doccano and what comes back: JSONL import records and per-user export zips.

Doccano's offsets are UTF-16 units; everything returned here is in code points (via doccano_offsets),
so no caller ever sees a Doccano offset. The post id rides in each example's meta.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cmner_build.errors import FormatError
from cmner_build.model import Span

from cmner_build.annotate.doccano.offsets import spans_from_doccano, spans_to_doccano

META_POST_ID = "post_id"
META_BATCH_ID = "batch_id"
META_ROUND = "round"  # set on the examples of rounds other than pilot/main (adjudication)
# Keys of an export line that are not meta (docs/doccano.md §4).
EXPORT_FIELDS = ("id", "text", "label", "Comments", "filename", "entities", "relations")


def example_record(post_id: str, text: str, *, batch_id: str | None = None, spans: Iterable[Span] = (),
                   meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSONL import line: the text, the post id (and batch) in meta, optional pre-filled spans.

    Pre-filled spans (code points) are converted to UTF-16; Doccano gives them to the uploading user."""
    record: dict[str, Any] = {"text": text, META_POST_ID: post_id}
    if batch_id is not None:
        record[META_BATCH_ID] = batch_id
    for key, value in (meta or {}).items():
        if key in EXPORT_FIELDS:
            raise ValueError(f"meta key {key!r} collides with a Doccano export field")
        record[key] = value
    record["label"] = spans_to_doccano(text, spans)
    return record


@dataclass
class ExportedExample:
    """One line of one member's export file, offsets already in code points."""

    username: str
    line: int
    example_id: int | None
    text: str | None
    meta: dict[str, Any]
    spans: list[Span] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    file_name: str | None = None  # image projects: the uploaded file's name
    problems: list[str] = field(default_factory=list)  # labels that could not be converted
    comments: list[str] = field(default_factory=list)  # this member's comment texts on the example

    @property
    def post_id(self) -> str | None:
        value = self.meta.get(META_POST_ID)
        return None if value is None else str(value)


def read_export_zip(source: bytes | Path, *, accept_entities: bool = False) -> dict[str, list[ExportedExample]]:
    """A Doccano JSONL export zip -> {username: examples}, one `<username>.jsonl` per member.

    Sequence-labeling lines carry `label: [[start, end, "LABEL"], ...]` (UTF-16, converted here);
    classification lines carry `label: ["name", ...]` (kept as categories); `Comments` holds the
    member's comment texts (sorted by Doccano, not in the order written). A project with relations
    exports `entities` instead of `label`: refused unless accept_entities (then its spans are read and
    the relations ignored). Malformed files raise a FormatError naming the zip member and line."""
    name = str(source) if isinstance(source, Path) else "export zip"
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise FormatError(f"not a Doccano export zip ({error})", name) from None
    by_user: dict[str, list[ExportedExample]] = {}
    with archive:
        for member in sorted(archive.namelist()):
            if member.endswith("/"):
                continue
            stem = Path(member).name
            if not stem.endswith(".jsonl"):
                raise FormatError(f"unexpected file {member!r}: export the project as JSONL", name)
            username = stem[: -len(".jsonl")]
            where = f"{name}!{member}"
            try:
                content = archive.read(member).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise FormatError("not UTF-8", where) from None
            by_user[username] = _parse_lines(username, content, where, accept_entities)
    if not by_user:
        raise FormatError("the zip holds no <username>.jsonl file", name)
    return by_user


def read_export_file(path: Path, *, accept_entities: bool = False) -> dict[str, list[ExportedExample]]:
    """An export zip, or one member's `<username>.jsonl` taken out of it: {username: examples}."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return read_export_zip(path, accept_entities=accept_entities)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("not UTF-8", path) from None
    return {path.stem: _parse_lines(path.stem, content, str(path), accept_entities)}


def _parse_lines(username: str, content: str, where: str, accept_entities: bool) -> list[ExportedExample]:
    return [_parse_line(username, raw, where, number, accept_entities)
            for number, raw in enumerate(content.splitlines(), start=1) if raw.strip()]


def _comment_texts(comments: Any) -> list[str]:
    """`Comments`: texts in a plain export, {"id", "comment"} objects in a relation-style one."""
    if not isinstance(comments, list):
        return []
    return [str(item.get("comment", item.get("text", ""))) if isinstance(item, dict) else str(item) for item in comments]


def _entity_triples(entities: Any) -> list[Any]:
    """Relation-style `entities: [{"start_offset", "end_offset", "label"}]` as [start, end, label] triples."""
    if not isinstance(entities, list):
        return [entities]
    return [[item.get("start_offset"), item.get("end_offset"), item.get("label")] if isinstance(item, dict) else item
            for item in entities]


def _parse_line(username: str, raw: str, where: str, number: int, accept_entities: bool = False) -> ExportedExample:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise FormatError(f"not JSON ({error.msg})", where, number) from None
    if not isinstance(data, dict):
        raise FormatError("a line must be a JSON object", where, number)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise FormatError("`text` must be a string", where, number)
    labels = data.get("label", [])
    if not isinstance(labels, list):
        raise FormatError("`label` must be a list", where, number)
    meta = {key: value for key, value in data.items() if key not in EXPORT_FIELDS}
    example = ExportedExample(username, number, data.get("id"), text, meta, file_name=data.get("filename"),
                              comments=_comment_texts(data.get("Comments", [])))
    if "entities" in data:
        if not accept_entities:
            raise FormatError("relation-style export (entities/relations): export without relations", where, number)
        labels = _entity_triples(data["entities"])
    if labels and all(isinstance(label, str) for label in labels):
        example.categories = list(labels)
    elif labels:
        if text is None:
            raise FormatError("spans on a line without `text`", where, number)
        example.spans, example.problems = spans_from_doccano(text, labels)
    return example
