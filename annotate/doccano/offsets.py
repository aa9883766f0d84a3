"""Doccano offsets <-> cmner-build offsets.

Doccano's span widget records offsets in UTF-16 code units (JavaScript string indices); cmner-build
counts Python code points. They differ by one for every character outside the Basic Multilingual Plane
(emoji, CJK Extension B such as 𠮷) before the offset. This module is the only place that converts,
and only the Doccano adapter calls it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from cmner_build.model import Span


def _is_astral(character: str) -> bool:
    return ord(character) > 0xFFFF


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for character in text if _is_astral(character))


def code_points_to_utf16(text: str, index: int) -> int:
    """The UTF-16 offset of code point `index` (0..len(text)) in text."""
    if not 0 <= index <= len(text):
        raise ValueError(f"offset {index} is outside the text of {len(text)} characters")
    return index + sum(1 for character in text[:index] if _is_astral(character))


class Utf16Index:
    """UTF-16 offset -> code point for one text; refuses offsets inside a surrogate pair or past the end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._code_point_at: dict[int, int] = {}
        units = 0
        for index, character in enumerate(text):
            self._code_point_at[units] = index
            units += 2 if _is_astral(character) else 1
        self._code_point_at[units] = len(text)
        self.length = units

    def to_code_point(self, offset: int) -> int:
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise ValueError(f"offset {offset!r} is not an integer")
        if not 0 <= offset <= self.length:
            raise ValueError(f"offset {offset} is outside the text of {self.length} UTF-16 units")
        try:
            return self._code_point_at[offset]
        except KeyError:
            raise ValueError(f"offset {offset} falls inside a character outside the BMP (a surrogate pair)") from None


def spans_from_doccano(text: str, labels: Iterable[Sequence[object]]) -> tuple[list[Span], list[str]]:
    """Doccano `[start, end, "LABEL"]` triples (UTF-16) -> code-point Spans, plus one problem per bad triple."""
    index = Utf16Index(text)
    spans: list[Span] = []
    problems: list[str] = []
    for triple in labels:
        if not isinstance(triple, (list, tuple)) or len(triple) != 3:
            problems.append(f"label {triple!r} is not [start, end, label]")
            continue
        start, end, label = triple
        try:
            span = Span(index.to_code_point(start), index.to_code_point(end), str(label))  # type: ignore[arg-type]
        except ValueError as error:
            problems.append(f"span {list(triple)!r}: {error}")
            continue
        if span.start >= span.end:
            problems.append(f"span {list(triple)!r}: empty or reversed")
            continue
        spans.append(span)
    return sorted(set(spans)), problems


def spans_to_doccano(text: str, spans: Iterable[Span]) -> list[list[object]]:
    """Code-point Spans -> Doccano `[start, end, "LABEL"]` triples in UTF-16 units (for pre-filled uploads)."""
    return [
        [code_points_to_utf16(text, span.start), code_points_to_utf16(text, span.end), span.label]
        for span in sorted(spans)
    ]
