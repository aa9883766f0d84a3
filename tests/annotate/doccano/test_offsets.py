"""UTF-16 <-> code point offsets: the one conversion between Doccano and cmner-build."""

from __future__ import annotations

import pytest

from cmner_build.annotate.doccano.offsets import Utf16Index, code_points_to_utf16, spans_from_doccano, spans_to_doccano, utf16_length
from cmner_build.model import Span

TEXT = "😀今天去上海见了李华，𠮷野家👨‍👩‍👧在广州"


def test_the_notes_example_maps_5_7_to_4_6() -> None:
    text = "😀今天去上海见了李华，腾讯的offer到手了！"
    spans, problems = spans_from_doccano(text, [[5, 7, "LOC"], [9, 11, "PER"]])
    assert problems == []
    assert spans == [Span(4, 6, "LOC"), Span(8, 10, "PER")]
    assert [span.text_of(text) for span in spans] == ["上海", "李华"]


def test_round_trip_every_boundary_of_a_text_with_astral_characters() -> None:
    index = Utf16Index(TEXT)
    assert index.length == utf16_length(TEXT) == len(TEXT.encode("utf-16-le")) // 2
    for position in range(len(TEXT) + 1):
        assert index.to_code_point(code_points_to_utf16(TEXT, position)) == position


def test_spans_after_emoji_zwj_sequence_and_ext_b() -> None:
    guangzhou = Span(TEXT.index("广州"), TEXT.index("广州") + 2, "LOC")
    jiye = Span(TEXT.index("𠮷野家"), TEXT.index("𠮷野家") + 3, "ORG")
    triples = spans_to_doccano(TEXT, [guangzhou, jiye])
    # 😀 +1 before 𠮷; 😀, 𠮷 and the three astral code points of 👨‍👩‍👧 (+5) before 广州.
    assert triples == [[jiye.start + 1, jiye.end + 2, "ORG"], [guangzhou.start + 5, guangzhou.end + 5, "LOC"]]
    assert spans_from_doccano(TEXT, triples) == ([jiye, guangzhou], [])


def test_adjudication_spans_round_trip_around_an_emoji_and_ext_b() -> None:
    """(Moved from the adjudication tests when their own converter was folded into this one.)"""
    text = "😀今天去上海见了李华，𠮷野家的腾讯"
    spans = [Span(4, 6, "LOC"), Span(8, 10, "PER"), Span(11, 14, "ORG"), Span(15, 17, "ORG")]
    units = spans_to_doccano(text, spans)
    assert units == [[5, 7, "LOC"], [9, 11, "PER"], [12, 16, "ORG"], [17, 19, "ORG"]]
    assert text.encode("utf-16-le")[5 * 2 : 7 * 2].decode("utf-16-le") == "上海"
    assert spans_from_doccano(text, units) == (spans, [])
    converted, problems = spans_from_doccano(text, [[1, 3, "PER"]])  # offset 1 is inside the emoji
    assert converted == [] and "inside a character outside the BMP" in problems[0]


@pytest.mark.parametrize(
    ("triple", "problem"),
    [
        ([13, 14, "ORG"], "inside a character outside the BMP"),  # 13 splits 𠮷 (units 12-13)
        ([3, 99, "LOC"], "outside the text"),
        ([-1, 2, "LOC"], "outside the text"),
        ([4, 4, "LOC"], "empty or reversed"),
        (["a", 2, "LOC"], "not an integer"),
        ([1, 2], "not [start, end, label]"),
    ],
)
def test_bad_offsets_are_reported_not_converted(triple: list, problem: str) -> None:
    spans, problems = spans_from_doccano(TEXT, [triple, [0, 2, "MISC"]])
    assert spans == [Span(0, 1, "MISC")]
    assert len(problems) == 1 and problem in problems[0]


def test_code_point_offset_outside_the_text_raises() -> None:
    with pytest.raises(ValueError, match="outside the text"):
        code_points_to_utf16("abc", 4)
