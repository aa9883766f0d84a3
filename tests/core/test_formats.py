import pytest

from cmner_build.errors import FormatError
from cmner_build.formats import format_tagged, read_tagged_file, read_tagged_text, split_from_filename


def test_reads_crlf_and_a_missing_final_newline():
    text = "WID:A1\r\n北\tB-LOC\r\n京\tI-LOC\r\n\r\nWID:B2\r\n好\tO"
    result = read_tagged_text(text, "dev.txt", "cmner")
    assert [(d.doc_id, d.tokens, d.tags) for d in result.documents] == [
        ("A1", ["北", "京"], ["B-LOC", "I-LOC"]),
        ("B2", ["好"], ["O"]),
    ]
    assert result.warnings == []


def test_bom_is_removed_with_a_warning():
    result = read_tagged_text("\ufeffWID:A1\n好\tO\n", "x.txt", "cmner")
    assert result.documents[0].doc_id == "A1"
    assert result.warnings == ["x.txt:1: removed a UTF-8 byte-order mark"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("WID:A\n好 O\n", 2, "no tab"),
        ("WID:A\n好\tB-FOO\n", 2, "unknown tag 'B-FOO'"),
        ("好\tO\n", 1, "before the first WID: line"),
        ("WID:A\n好吗\tO\n", 2, "one character per line"),
        ("WID:\n好\tO\n", 1, "without an id"),
        ("WID:A\n好\tO\n\n\n\tO\n", 5, "empty token"),
    ],
)
def test_malformed_lines_name_file_and_line(text, line, message):
    with pytest.raises(FormatError) as caught:
        read_tagged_text(text, "train.txt", "cmner")
    assert caught.value.path == "train.txt"
    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"train.txt:{line}: ")


def test_i_without_b_is_repaired_or_rejected_when_strict():
    text = "WID:A\n在\tO\n京\tI-LOC\n城\tI-LOC\n人\tI-PER\n"
    result = read_tagged_text(text, "t.txt", "cmner")
    assert result.documents[0].tags == ["O", "B-LOC", "I-LOC", "B-PER"]
    assert result.warnings == [
        "t.txt:3: I-LOC without B-LOC before it, read as B-LOC",
        "t.txt:5: I-PER without B-PER before it, read as B-PER",
    ]
    with pytest.raises(FormatError, match="t.txt:3: I-LOC does not continue"):
        read_tagged_text(text, "t.txt", "cmner", strict=True)


def test_empty_post_is_skipped_with_a_warning():
    result = read_tagged_text("WID:A\n\nWID:B\n好\tO\n", "t.txt", "cmner")
    assert [d.doc_id for d in result.documents] == ["B"]
    assert result.warnings == ["t.txt:1: skipped empty post 'A' (no token lines)"]


def test_line_separator_characters_are_tokens_not_line_breaks():
    result = read_tagged_text("WID:A\n\u2028\tO\n\x85\tO\n", "t.txt", "cmner")
    assert result.documents[0].tokens == ["\u2028", "\x85"]


def test_twitter_format_maps_other_and_rejects_spaces():
    result = read_tagged_text("IMGID:1\nRT\tO\nNew\tB-OTHER\nYork\tI-OTHER\n", "valid.txt", "twitter2015")
    assert result.documents[0].tags == ["O", "B-MISC", "I-MISC"]
    with pytest.raises(FormatError, match="contains a space"):
        read_tagged_text("IMGID:1\nNew York\tO\n", "valid.txt", "twitter2015")
    lone_nbsp = read_tagged_text("IMGID:1\n:\tO\n\xa0\tO\nhttp://t.co/x\tO\n", "valid.txt", "twitter2015")
    assert lone_nbsp.documents[0].tokens == [":", "\xa0", "http://t.co/x"]


def test_format_tagged_round_trips_with_crlf_and_final_newline():
    documents = [("A1", ["北", "京"], ["B-LOC", "I-LOC"]), ("B2", ["好"], ["O"])]
    written = format_tagged(documents, "cmner")
    assert written == "WID:A1\r\n北\tB-LOC\r\n京\tI-LOC\r\n\r\nWID:B2\r\n好\tO\r\n"
    again = read_tagged_text(written, "x", "cmner").documents
    assert [(d.doc_id, d.tokens, d.tags) for d in again] == [(i, list(t), list(g)) for i, t, g in documents]
    assert format_tagged([("7", ["hi"], ["O"])], "twitter2015") == "IMGID:7\nhi\tO\n"


@pytest.mark.parametrize(
    "name, split",
    [("train.txt", "train"), ("dev.txt", "dev"), ("valid.txt", "dev"), ("weibo-zh-test.txt", "test"),
     ("sample.txt", None)],
)
def test_split_from_filename(name, split):
    assert split_from_filename(name) == split


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_tagged_file(tmp_path / "missing.txt", "cmner")
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("WID:A\n好\tO\n".encode("gbk"))
    with pytest.raises(FormatError, match=r"gbk.txt:2: not UTF-8"):
        read_tagged_file(bad, "cmner")


def test_real_release_files_parse_without_repairs(shared_data):
    for name, posts, tokens in (("train.txt", 3000, 332649), ("dev.txt", 1000, 113508)):
        result = read_tagged_file(shared_data / "cmner" / name, "cmner")
        assert len(result.documents) == posts
        assert sum(len(d.tokens) for d in result.documents) == tokens
        assert result.warnings == []
    # Twitter-2015 has entity-initial I- tags (186 in train, 53 in valid); each is
    # read as B- with a warning, which gives seqeval's lenient chunk counts (6,352 and 1,594).
    for name, tweets, tokens, repairs, entities in (("train.txt", 4000, 64439, 186, 6352),
                                                    ("valid.txt", 1000, 16178, 53, 1594)):
        twitter = read_tagged_file(shared_data / "twitter2015" / name, "twitter2015")
        assert len(twitter.documents) == tweets
        assert sum(len(d.tokens) for d in twitter.documents) == tokens
        assert len(twitter.warnings) == repairs
        assert sum(tag.startswith("B-") for d in twitter.documents for tag in d.tags) == entities
