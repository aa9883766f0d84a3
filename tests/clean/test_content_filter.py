"""Content filter: Aho-Corasick matching over the bundled and user lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmner_build.clean.content_filter import ContentFilter, default_lexicon_path, drop_category, read_lexicon
from cmner_build.errors import FormatError


def test_default_lexicon_ships_the_three_categories() -> None:
    terms = read_lexicon(default_lexicon_path())
    assert set(terms.values()) == {"pornography", "violence", "discrimination"}
    assert 3 <= len(terms) <= 40


def test_automaton_finds_overlapping_and_adjacent_terms_where_flashtext_fails() -> None:
    content_filter = ContentFilter({"人民日报": "media", "成都": "city", "北京": "city", "日报": "media"})
    # flashtext misses 人民日报 in 人民日报1报道 and 成都 in 到成都2小时, and finds only 北京 in 北京成都.
    assert content_filter.match("人民日报1报道") == {"media": ["人民日报", "日报"]}
    assert content_filter.match("郑州到成都2小时") == {"city": ["成都"]}
    assert content_filter.match("北京成都") == {"city": ["北京", "成都"]}
    assert content_filter.match("上海杭州") == {}


def test_matching_ignores_latin_case() -> None:
    content_filter = ContentFilter.from_files([])
    assert content_filter.match("anything") == {}
    content_filter = ContentFilter({"porn site": "pornography"})
    assert content_filter.match("a PORN Site link") == {"pornography": ["porn site"]}


def test_default_lexicon_hits_and_misses() -> None:
    content_filter = ContentFilter.from_files([default_lexicon_path()])
    assert content_filter.match("再说一句我就砍死你") == {"violence": ["砍死你"]}
    assert content_filter.match("今天的比赛太精彩了，刘洋最后时刻的进球让全场沸腾。") == {}
    assert drop_category({"violence": ["a"], "pornography": ["b", "c"]}) == "pornography"
    assert drop_category({"violence": ["a"], "discrimination": ["b"]}) == "discrimination"


def test_user_lexicon_with_and_without_categories(tmp_path: Path) -> None:
    lexicon = tmp_path / "gambling.txt"
    lexicon.write_text("# my terms\n网络赌博\n澳门赌场\tgambling_ads\n\n", encoding="utf-8")
    terms = read_lexicon(lexicon)
    assert terms == {"网络赌博": "gambling", "澳门赌场": "gambling_ads"}
    merged = ContentFilter.from_files([default_lexicon_path(), lexicon])
    assert merged.match("加入网络赌博群") == {"gambling": ["网络赌博"]}
    assert merged.fingerprint != ContentFilter.from_files([default_lexicon_path()]).fingerprint


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("好词\n坏\n", 2, "shorter than 2 characters"),
        ("词语\t类 别\n", 1, "category '类 别' must be letters"),
        ("a\tb\tc\n", 1, "expected term<TAB>category"),
    ],
)
def test_bad_lexicon_lines_name_the_file_and_line(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        read_lexicon(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_lexicon_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("好词\n坏词\n".encode("gbk"))
    with pytest.raises(FormatError, match="not UTF-8"):
        read_lexicon(path)
