"""Readers and writers for the two release formats cmner-build must match.

CMNER:        `WID:<post id>` line, then `<char>\t<TAG>` lines, a blank line between posts.
Twitter-2015: `IMGID:<id>` line, then `<token>\t<TAG>` lines, a blank line between tweets.

The real files have CRLF endings and sometimes no final newline (CMNER dev/test); both are read.
Repairs made while reading are reported as warnings, never silent:
  * a UTF-8 byte-order mark at the start of the file is removed;
  * an `I-X` tag that does not continue an `X` entity is read as `B-X` (the conlleval reading);
    pass strict=True to make it an error instead;
  * a header with no token lines after it (an empty post) is skipped.
A post id that is not 1-64 ASCII letters and digits (`safety.check_post_id`), and a token holding a
control character (NUL, a lone CR, ESC...), are errors.
Everything else that is malformed raises FormatError with the file and line number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .errors import FormatError
from .model import split_tag
from .safety import is_valid_post_id

# C0 control characters and DEL (NUL, a lone CR, ESC, ...) are never text of a post (U+0085 and the
# other line separators are, rarely); the tab separates
# token and tag and never reaches a token.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The same characters anywhere in a file, line ends (LF, CRLF, a final CR) aside: one scan of the whole
# text decides whether any line needs the per-line check, which names the line.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n|\Z)")

FORMATS: dict[str, dict[str, str]] = {
    "cmner": {"header": "WID:", "tokenization": "char", "newline": "\r\n"},
    "twitter2015": {"header": "IMGID:", "tokenization": "whitespace", "newline": "\n"},
}

# File stems that name a split in the two releases (UMT calls dev "valid").
SPLIT_BY_STEM: dict[str, str] = {"train": "train", "dev": "dev", "valid": "dev", "test": "test"}


@dataclass
class TaggedDocument:
    doc_id: str
    tokens: list[str]
    tags: list[str]
    line: int  # line number of the header, for messages


@dataclass
class ReadResult:
    documents: list[TaggedDocument] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_from_filename(path: str | Path) -> str | None:
    """'weibo-zh-train.txt' -> 'train', 'valid.txt' -> 'dev'; None when the name names no split."""
    stem = Path(path).stem.lower()
    for word in reversed(stem.replace("_", "-").replace(".", "-").split("-")):
        if word in SPLIT_BY_STEM:
            return SPLIT_BY_STEM[word]
    return None


def read_tagged_text(text: str, path: str | Path, fmt: str, *, strict: bool = False) -> ReadResult:
    """Parse the whole text of one release file. `path` is only used in messages."""
    spec = FORMATS[fmt]
    header = spec["header"]
    single_char = spec["tokenization"] == "char"
    result = ReadResult()
    if text.startswith("\ufeff"):
        text = text[1:]
        result.warnings.append(f"{path}:1: removed a UTF-8 byte-order mark")
    current: TaggedDocument | None = None
    previous_label: str | None = None
    parsed_tags: dict[str, tuple[str, str, str | None]] = {}  # tag -> (canonical tag, prefix, label)

    def flush() -> None:
        if current is None:
            return
        if current.tokens:
            result.documents.append(current)
        else:
            result.warnings.append(f"{path}:{current.line}: skipped empty post {current.doc_id!r} (no token lines)")

    has_control = _CONTROL_IN_TEXT.search(text) is not None
    # Split on LF only: str.splitlines() would also break on U+2028, U+0085 and friends, which are
    # legitimate (if rare) characters of a post.
    for line_number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if line.startswith(header):
            flush()
            doc_id = line[len(header) :].strip()
            if not doc_id:
                raise FormatError(f"{header} line without an id", path, line_number)
            if not is_valid_post_id(doc_id):
                # The id becomes part of file names and of `WID:` lines: no separators, NUL, newlines.
                raise FormatError(f"post id {doc_id!r} is not valid (1-64 ASCII letters and digits)", path, line_number)
            current = TaggedDocument(doc_id, [], [], line_number)
            previous_label = None
            continue
        if not line.strip():
            previous_label = None
            continue
        if current is None:
            raise FormatError(f"token line before the first {header} line: {line!r}", path, line_number)
        if "\t" not in line:
            raise FormatError(f"expected <token><TAB><tag>, found no tab in {line!r}", path, line_number)
        token, tag = line.rsplit("\t", 1)
        tag = tag.strip()
        control = _CONTROL_CHARACTER.search(token) if has_control else None
        if control is not None:
            raise FormatError(f"token {token!r} contains the control character U+{ord(control.group()):04X}",
                              path, line_number)
        if not token:
            raise FormatError("empty token before the tab", path, line_number)
        if single_char and len(token) != 1:
            raise FormatError(f"expected one character per line, found {token!r}", path, line_number)
        if not single_char and " " in token:
            # Words are stored joined by single spaces; other whitespace (a lone U+00A0 occurs in the
            # real Twitter-2015 valid.txt) survives that round trip and is kept.
            raise FormatError(f"token {token!r} contains a space", path, line_number)
        if tag not in parsed_tags:
            try:
                prefix, label = split_tag(tag)
            except ValueError as error:
                raise FormatError(str(error), path, line_number) from None
            parsed_tags[tag] = (tag if label is None else f"{prefix}-{label}", prefix, label)  # OTHER -> MISC
        tag, prefix, label = parsed_tags[tag]
        if prefix == "I" and previous_label != label:
            if strict:
                raise FormatError(f"{tag} does not continue a B-{label} entity", path, line_number)
            result.warnings.append(f"{path}:{line_number}: {tag} without B-{label} before it, read as B-{label}")
            tag = f"B-{label}"
        previous_label = label
        current.tokens.append(token)
        current.tags.append(tag)
    flush()
    return result


def read_tagged_file(path: str | Path, fmt: str, *, strict: bool = False) -> ReadResult:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror or error}", path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise FormatError(f"not UTF-8 (byte {error.start})", path, line) from None
    return read_tagged_text(text, path, fmt, strict=strict)


def format_tagged(documents: Iterable[tuple[str, Sequence[str], Sequence[str]]], fmt: str) -> str:
    """Write documents (id, tokens, tags) in the release format: one canonical form, final newline included.

    The newline is the release's own (CRLF for CMNER); the final newline is always written because UMT's
    reader chops the last character of every line and fails on a file without one.
    """
    spec = FORMATS[fmt]
    newline = spec["newline"]
    blocks: list[str] = []
    for doc_id, tokens, tags in documents:
        lines = [f"{spec['header']}{doc_id}"]
        lines.extend(f"{token}\t{tag}" for token, tag in zip(tokens, tags, strict=True))
        blocks.append(newline.join(lines) + newline)
    return newline.join(blocks)


def json_object_line(raw: str, path: str | Path, line: int) -> dict:
    """One JSONL line that must hold a JSON object; a FormatError naming the file and line otherwise."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise FormatError(f"not JSON ({error.msg})", path, line) from None
    if not isinstance(data, dict):
        raise FormatError("a line must be a JSON object", path, line)
    return data
