import pytest

from cmner_build.model import (
    Span,
    bio_to_spans,
    char_tokens,
    count_by_label,
    spans_to_bio,
    split_tag,
    tokenize,
    validate_spans,
    whitespace_tokens,
)


def test_bio_to_spans_on_characters():
    tokens = char_tokens("张伟在北京工作")
    tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O"]
    assert bio_to_spans(tokens, tags) == [Span(0, 2, "PER"), Span(3, 5, "LOC")]


def test_adjacent_entities_of_the_same_type_stay_separate():
    tokens = char_tokens("北京上海")
    assert bio_to_spans(tokens, ["B-LOC", "I-LOC", "B-LOC", "I-LOC"]) == [Span(0, 2, "LOC"), Span(2, 4, "LOC")]


def test_strict_rejects_i_without_b_and_lenient_starts_an_entity():
    tokens = char_tokens("abc")
    with pytest.raises(ValueError, match="token 1: I-ORG"):
        bio_to_spans(tokens, ["B-PER", "I-ORG", "O"])
    assert bio_to_spans(tokens, ["B-PER", "I-ORG", "I-ORG"], strict=False) == [Span(0, 1, "PER"), Span(1, 3, "ORG")]


def test_whitespace_tokens_carry_character_offsets():
    tokens = whitespace_tokens("George Zimmerman got shot")
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("George", 0, 6), ("Zimmerman", 7, 16), ("got", 17, 20), ("shot", 21, 25)
    ]
    assert bio_to_spans(tokens, ["B-PER", "I-PER", "O", "O"]) == [Span(0, 16, "PER")]


def test_spans_to_bio_round_trip_and_errors():
    tokens = tokenize("腾讯在深圳", "char")
    spans = [Span(0, 2, "ORG"), Span(3, 5, "LOC")]
    tags = spans_to_bio(tokens, spans)
    assert tags == ["B-ORG", "I-ORG", "O", "B-LOC", "I-LOC"]
    assert bio_to_spans(tokens, tags) == spans
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_bio(tokens, [Span(0, 2, "ORG"), Span(1, 3, "PER")])
    words = tokenize("New York City", "whitespace")
    with pytest.raises(ValueError, match="token boundaries"):
        spans_to_bio(words, [Span(1, 8, "LOC")])


def test_split_tag_maps_other_to_misc_and_rejects_unknown():
    assert split_tag("B-OTHER") == ("B", "MISC")
    assert split_tag("O") == ("O", None)
    for bad in ("B-PERSON", "X", "B_PER", "E-LOC"):
        with pytest.raises(ValueError):
            split_tag(bad)


def test_validate_spans_reports_each_problem():
    problems = validate_spans("abcd", [Span(0, 2, "PER"), Span(1, 3, "LOC"), Span(3, 9, "ORG"), Span(0, 1, "FOO")])
    assert any("overlaps" in p for p in problems)
    assert any("outside the text of 4" in p for p in problems)
    assert any("unknown label 'FOO'" in p for p in problems)
    assert validate_spans("abcd", [Span(0, 2, "PER"), Span(2, 4, "LOC")]) == []


def test_count_by_label_has_every_label():
    assert count_by_label([Span(0, 1, "PER"), Span(2, 3, "PER")]) == {"PER": 2, "LOC": 0, "ORG": 0, "MISC": 0}
