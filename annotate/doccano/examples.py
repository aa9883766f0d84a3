"""What goes into Doccano and what comes back: JSONL import records and per-user export zips.

Doccano's offsets are UTF-16 units; everything returned here is in code points (via doccano_offsets),
so no caller ever sees a Doccano offset. The post id rides in each example's meta.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cmner_build.errors import FormatError
from cmner_build.formats import json_object_line
from cmner_build.model import Span
from cmner_build.safety import name_problem

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


MIB = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """How much an export zip may unpack to. A real export of a batch is a few hundred KB; the limits
    stop a zip bomb (a small zip with a huge member) before it fills memory. Set in cmner.toml as
    [annotate] export_member_mb / export_total_mb."""

    max_member_bytes: int = 256 * MIB
    max_total_bytes: int = 1024 * MIB


def read_export_zip(source: bytes | Path, *, accept_entities: bool = False,
                    limits: ZipLimits = ZipLimits()) -> dict[str, list[ExportedExample]]:
    """A Doccano JSONL export zip -> {username: examples}, one `<username>.jsonl` per member.

    Sequence-labeling lines carry `label: [[start, end, "LABEL"], ...]` (UTF-16, converted here);
    classification lines carry `label: ["name", ...]` (kept as categories); `Comments` holds the
    member's comment texts (sorted by Doccano, not in the order written). A project with relations
    exports `entities` instead of `label`: refused unless accept_entities (then its spans are read and
    the relations ignored). Malformed files raise a FormatError naming the zip member and line.

    The zip is outside input: every member name and user name is checked (`safety.check_name`), two
    members for one user are refused, and members are read within `limits` (the declared size is
    checked first, and the bytes actually unpacked are counted too, since a header can lie)."""
    name = str(source) if isinstance(source, Path) else "export zip"
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise FormatError(f"not a Doccano export zip ({error})", name) from None
    by_user: dict[str, list[ExportedExample]] = {}
    member_of: dict[str, str] = {}
    total = 0
    with archive:
        for info in sorted(archive.infolist(), key=lambda entry: entry.filename):
            member = info.filename
            if info.is_dir():
                continue
            problem = _member_problem(member)
            if problem is not None:
                raise FormatError(f"member {member!r} {problem}; nothing was read", name)
            stem = member.rsplit("/", 1)[-1]
            if not stem.endswith(".jsonl"):
                raise FormatError(f"unexpected file {member!r}: export the project as JSONL", name)
            username = stem[: -len(".jsonl")]
            user_problem = name_problem(username)
            if user_problem is not None:
                raise FormatError(f"member {member!r}: user name {username!r} {user_problem}", name)
            if username in member_of:
                raise FormatError(f"two members for user {username!r} ({member_of[username]!r} and {member!r}): "
                                  "one file per annotator; nothing was read", name)
            member_of[username] = member
            where = f"{name}!{member}"
            data = _read_member(archive, info, limits, limits.max_total_bytes - total, where)
            total += len(data)
            try:
                content = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise FormatError("not UTF-8", where) from None
            by_user[username] = _parse_lines(username, content, where, accept_entities)
    if not by_user:
        raise FormatError("the zip holds no <username>.jsonl file", name)
    return by_user


def _member_problem(member: str) -> str | None:
    """Why a zip member name is not a plain relative name (absolute, `..`, control characters…)."""
    if member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":"):
        return "is an absolute path"
    for part in member.split("/"):
        problem = name_problem(part)
        if problem is not None:
            return f"has a part {part!r} that {problem}"
    return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits, total_left: int,
                 where: str) -> bytes:
    """The member's bytes, refused (FormatError) once they pass the member or the total limit."""
    allowed = min(limits.max_member_bytes, total_left)
    what = (f"member limit of {limits.max_member_bytes // MIB} MiB" if allowed == limits.max_member_bytes
            else f"total limit of {limits.max_total_bytes // MIB} MiB for the whole zip")
    advice = "; raise [annotate] export_member_mb / export_total_mb in cmner.toml if this export is real"
    if info.file_size > allowed:
        raise FormatError(f"unpacks to {info.file_size:,} bytes, over the {what}{advice}", where)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(MIB):
                size += len(chunk)
                if size > allowed:
                    raise FormatError(f"unpacks to more than its header says ({info.file_size:,} bytes), over the "
                                      f"{what}{advice}", where)
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise FormatError(f"cannot be unpacked ({error})", where) from None
    return b"".join(chunks)


def read_export_file(path: Path, *, accept_entities: bool = False,
                     limits: ZipLimits = ZipLimits()) -> dict[str, list[ExportedExample]]:
    """An export zip, or one member's `<username>.jsonl` taken out of it: {username: examples}."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return read_export_zip(path, accept_entities=accept_entities, limits=limits)
    if path.stat().st_size > limits.max_member_bytes:
        raise FormatError(f"{path.stat().st_size:,} bytes, over the member limit of {limits.max_member_bytes // MIB} MiB "
                          "([annotate] export_member_mb in cmner.toml)", path)
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
    data = json_object_line(raw, where, number)
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
