"""The corpus model: entity labels, spans over code points, and BIO <-> span conversion.

Offsets everywhere in cmner-build are Python code points into the post text, end exclusive.
Doccano's UTF-16 offsets are converted in the annotate adapter and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

LABELS: tuple[str, ...] = ("PER", "LOC", "ORG", "MISC")
# Twitter-2015 calls MISC "OTHER"; UMT maps it the same way.
LABEL_ALIASES: dict[str, str] = {"OTHER": "MISC"}
BIO_TAGS: tuple[str, ...] = ("O",) + tuple(f"{prefix}-{label}" for label in LABELS for prefix in ("B", "I"))


@dataclass(frozen=True, order=True)
class Span:
    """An entity mention: [start, end) in code points of the post text."""

    start: int
    end: int
    label: str

    def text_of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True)
class Token:
    """One unit of the BIO sequence: a character for CMNER, a word for Twitter-2015."""

    text: str
    start: int
    end: int


def char_tokens(text: str) -> list[Token]:
    return [Token(ch, i, i + 1) for i, ch in enumerate(text)]


def whitespace_tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    for piece in text.split(" "):
        if piece:
            tokens.append(Token(piece, position, position + len(piece)))
        position += len(piece) + 1
    return tokens


def tokenize(text: str, tokenization: str) -> list[Token]:
    """Split text the way its source format did: one token per character, or per space-separated word."""
    if tokenization == "char":
        return char_tokens(text)
    if tokenization == "whitespace":
        return whitespace_tokens(text)
    raise ValueError(f"unknown tokenization {tokenization!r}")


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Raises ValueError on anything else."""
    if tag == "O":
        return "O", None
    prefix, sep, label = tag.partition("-")
    label = LABEL_ALIASES.get(label, label)
    if not sep or prefix not in ("B", "I") or label not in LABELS:
        raise ValueError(f"unknown tag {tag!r} (expected O or B-/I- with one of {', '.join(LABELS)})")
    return prefix, label


def bio_to_spans(tokens: Sequence[Token], tags: Sequence[str], *, strict: bool = True) -> list[Span]:
    """Turn BIO tags into spans.

    strict: an I- tag that does not continue an entity of the same type raises ValueError
    (with the token index in the message). Lenient mode starts a new entity there, as conlleval does.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    spans: list[Span] = []
    open_label: str | None = None
    open_start = 0
    open_end = 0
    for index, (token, tag) in enumerate(zip(tokens, tags)):
        prefix, label = split_tag(tag)
        if prefix == "I" and open_label == label:
            open_end = token.end
            continue
        if prefix == "I" and strict:
            raise ValueError(f"token {index}: {tag} does not continue a B-{label} entity")
        if open_label is not None:
            spans.append(Span(open_start, open_end, open_label))
            open_label = None
        if prefix in ("B", "I"):
            open_label, open_start, open_end = label, token.start, token.end
    if open_label is not None:
        spans.append(Span(open_start, open_end, open_label))
    return spans


def spans_to_bio(tokens: Sequence[Token], spans: Iterable[Span]) -> list[str]:
    """Tag tokens from spans. A span must start and end on token boundaries and spans must not overlap."""
    start_index = {token.start: i for i, token in enumerate(tokens)}
    end_index = {token.end: i for i, token in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    for span in sorted(spans):
        if span.label not in LABELS:
            raise ValueError(f"span {span}: unknown label {span.label!r}")
        first = start_index.get(span.start)
        last = end_index.get(span.end)
        if first is None or last is None or last < first:
            raise ValueError(f"span {span} does not fall on token boundaries")
        if any(tag != "O" for tag in tags[first : last + 1]):
            raise ValueError(f"span {span} overlaps another span")
        tags[first] = f"B-{span.label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{span.label}"
    return tags


def validate_spans(text: str, spans: Iterable[Span]) -> list[str]:
    """Problems with spans against a text (empty list when fine): out of range, empty, unknown label, overlap."""
    problems: list[str] = []
    previous: Span | None = None
    for span in sorted(spans):
        if span.label not in LABELS:
            problems.append(f"{span}: unknown label {span.label!r}")
        if not 0 <= span.start < span.end <= len(text):
            problems.append(f"{span}: outside the text of {len(text)} characters")
        elif previous is not None and span.start < previous.end:
            problems.append(f"{span}: overlaps {previous}")
        previous = span
    return problems


def count_by_label(spans: Iterable[Span]) -> dict[str, int]:
    counts = {label: 0 for label in LABELS}
    for span in spans:
        counts[span.label] += 1
    return counts
