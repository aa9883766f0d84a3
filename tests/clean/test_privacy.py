"""Privacy redaction: a planted PII set found with 100 % recall, and no hit on ids, URLs, dates or prices."""

from __future__ import annotations

import random

import pytest

from cmner_build.clean.privacy import MASKS, find_pii, id_checksum_ok, redact

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(rng: random.Random, valid: bool = True) -> str:
    """A synthetic 18-character ID number with a correct (or deliberately wrong) check digit."""
    region = rng.choice(["110105", "310104", "440305", "510107", "330106"])
    birth = f"{rng.randrange(1950, 2006)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    body = region + birth + f"{rng.randrange(0, 1000):03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


def make_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


PHONE_TEMPLATES = [
    "我的手机号是{}，有事打给我",
    "联系电话：{}",
    "电话{}转人工",
    "tel:{} 随时联系",
    "急！{}，看到回电",
    "手机 {}",
    "请拨打+86 {}咨询",
    "（{}）",
]
EMAIL_TEMPLATES = ["邮箱{}联系", "简历发到{}，谢谢", "E-mail: {}。", "联系{}"]
QQ_TEMPLATES = ["QQ：{}", "加我qq{}", "QQ号是{}", "扣扣 {} 备注微博", "qq群:{}欢迎", "企鹅号为{}"]


def planted_set(seed: int = 7) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(kind, value)]) examples covering every kind and every template."""
    rng = random.Random(seed)
    cases: list[tuple[str, list[tuple[str, str]]]] = []
    for template in PHONE_TEMPLATES:
        number = make_mobile(rng)
        cases.append((template.format(number), [("phone", number)]))
    for formatted in ("138-1234-5678", "139 8765 4321", "010-62751234", "(0571)88886666", "（020）83331234"):
        cases.append((f"电话{formatted}，欢迎来电", [("phone", formatted)]))
    for _ in range(6):
        number = make_id(rng)
        cases.append((f"身份证号{number}，请核对", [("id_card", number)]))
    lower_x = make_id(random.Random(99))
    while not lower_x.endswith("X"):
        lower_x = make_id(rng)
    cases.append((f"证件：{lower_x.lower()}。", [("id_card", lower_x.lower())]))
    for template, address in zip(EMAIL_TEMPLATES, ["abc@qq.com", "Zhang.San+cv@Example.COM.cn", "x_y-z@163.com", "ABC@QQ.COM"]):
        cases.append((template.format(address), [("email", address)]))
    for template in QQ_TEMPLATES:
        number = str(rng.randrange(10_000, 10**10))
        cases.append((template.format(number), [("qq", number)]))
    everything = f"我的手机号是13812345678，身份证11010519491231002X，QQ：123456789，邮箱abc@qq.com"
    cases.append((everything, [("phone", "13812345678"), ("id_card", "11010519491231002X"),
                               ("qq", "123456789"), ("email", "abc@qq.com")]))
    return cases


def test_planted_pii_is_found_with_full_recall_and_exact_spans() -> None:
    cases = planted_set()
    assert len(cases) >= 30
    kinds_seen = set()
    for text, expected in cases:
        hits = [(hit.kind, hit.value) for hit in find_pii(text)]
        expected_values = [(kind, value) for kind, value in expected]
        found_values = [(kind, value.replace("+86 ", "")) for kind, value in hits]
        assert sorted(found_values) == sorted(expected_values), text
        kinds_seen.update(kind for kind, _ in expected)
    assert kinds_seen == set(MASKS)


def test_redaction_masks_and_counts() -> None:
    text = "我的手机号是13812345678，身份证11010519491231002X，QQ：123456789，邮箱abc@qq.com"
    assert redact(text) == (
        "我的手机号是<PHONE>，身份证<ID>，QQ：<QQ>，邮箱<EMAIL>",
        {"phone": 1, "id_card": 1, "qq": 1, "email": 1},
    )
    assert redact("手机13812345678或13912345678") == ("手机<PHONE>或<PHONE>", {"phone": 2})
    assert redact(text, ("email",)) == (text.replace("abc@qq.com", "<EMAIL>"), {"email": 1})


def test_id_checksum_rejects_invalid_numbers() -> None:
    rng = random.Random(3)
    for _ in range(50):
        valid, invalid = make_id(rng), make_id(rng, valid=False)
        assert id_checksum_ok(valid) and not id_checksum_ok(invalid)
        assert find_pii(f"身份证{invalid}") == []
        assert [hit.kind for hit in find_pii(f"身份证{valid}")] == ["id_card"]
    assert id_checksum_ok("11010519491231002X") and id_checksum_ok("11010519491231002x")
    assert not id_checksum_ok("11010519491231002Y")


@pytest.mark.parametrize(
    "text",
    [
        # Weibo post ids: 16-digit mids, 10-digit uids, base62 bids; status URLs carrying them.
        "转发自微博 4758855998177431 的评论",
        "用户uid 1234567890 发布",
        "https://weibo.com/1234567890/4758855998177431",
        "https://m.weibo.cn/status/L364I3366?mid=13812345678",
        "原文 http://t.cn/13812345678 点击",
        "详见 https://example.com/user/abc@qq.com/13812345678",
        "WID:L364I3366 的帖子",
        # Dates and times in every usual shape.
        "2024-01-15 比赛", "2024年1月15日 开幕", "20240115期", "2024/01/15 13:45:30", "1949年10月1日",
        # Prices, scores, counts.
        "售价13999元", "￥1899起", "门票¥ 380/人", "比分 3:1", "观看人数 138,123,456,789",
        "播放量1380000000次",
        # Mentions and topics are not e-mail addresses.
        "感谢@北京日报 的报道 #北京冬奥会#", "@新浪体育：今天的比赛",
        # A QQ-like number without its keyword, and a keyword without a number.
        "编号123456789已发货", "QQ音乐上线新歌", "我在用qq聊天",
        # An 18-digit number that is not a valid ID, and ID-like digits inside a longer run.
        "订单号110105194912310021", "流水号9110105194912310029123",
        # A phone-like number glued to other digits.
        "条码 6913812345678", "交易号 138123456789",
    ],
)
def test_no_hit_on_ids_urls_dates_or_prices(text: str) -> None:
    assert find_pii(text) == [], [(hit.kind, hit.value) for hit in find_pii(text)]
    assert redact(text) == (text, {})


def test_no_word_boundary_trap_phone_next_to_cjk() -> None:
    # `\b1[3-9]\d{9}\b` finds nothing here (CJK characters are \w); lookarounds do.
    assert [hit.value for hit in find_pii("手机号是13812345678，")] == ["13812345678"]
