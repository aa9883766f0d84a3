"""What counts as private data: every planted form is found, half- and full-width, with exact spans;
no look-alike is touched; each kind of number has a stated fate; gold texts are masked in place."""

from __future__ import annotations

import random
from datetime import date

import pytest

from cmner_build.model import Span, char_tokens, spans_to_bio, whitespace_tokens
from cmner_build.privacy import (
    KINDS,
    PLACEHOLDERS,
    find_pii,
    half_width,
    id_birth_date_ok,
    id_checksum_ok,
    luhn_ok,
    mask_gold_text,
    redact,
    unreviewed_hits,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(body: str) -> str:
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def make_id(rng: random.Random, valid: bool = True) -> str:
    """A synthetic 18-character ID number with a correct (or deliberately wrong) check digit."""
    region = rng.choice(["110105", "310104", "440305", "510107", "330106"])
    birth = f"{rng.randrange(1950, 2006)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    number = with_check_digit(region + birth + f"{rng.randrange(0, 1000):03d}")
    if not valid:
        number = number[:17] + rng.choice([c for c in "0123456789X" if c != number[17]])
    return number


def make_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def make_card(rng: random.Random, prefix: str, length: int) -> str:
    """A Luhn-valid card number."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


def full_width(text: str) -> str:
    """ASCII letters, digits and signs as their full-width forms, spaces as ideographic spaces."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


PHONE_TEMPLATES = [
    "我的手机号是{}，有事打给我", "联系电话：{}", "电话{}转人工", "tel:{} 随时联系", "急！{}，看到回电", "手机 {}", "（{}）",
]
EMAIL_TEMPLATES = ["邮箱{}联系", "简历发到{}，谢谢", "E-mail: {}。", "联系{}"]
QQ_TEMPLATES = [
    "QQ：{}", "加我qq{}", "QQ号是{}", "扣扣 {} 备注微博", "qq群:{}欢迎", "企鹅号为{}",
    "QQ号是：{}", "QQ群号码：{}", "Q：{}，私聊", "QQ/微信：{}",
]
WECHAT_CASES = [
    ("微信：{}", "abc_123"), ("vx：{}", "zhangsan88"), ("V信：{}", "lisi-2020"), ("wx:{}", "wangwu_99"),
    ("微信号是{}，加我", "Tom_cat7"), ("加V：{}领取", "coupon2024"), ("微信：{}", "987654321"), ("QQ/微信：{}", "abc_123"),
]
WRITTEN_EMAILS = [
    "zhang[at]qq.com", "zhang(at)qq.com", "zhang at qq dot com", "zhang [at] qq [dot] com", "li.si艾特163.com",
    "wang@sina点com", "Zhao【at】sina.com.cn",
]


def planted_set(seed: int = 7) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(kind, value)]) examples covering every kind and every form the docs list."""
    rng = random.Random(seed)
    cases: list[tuple[str, list[tuple[str, str]]]] = []
    for template in PHONE_TEMPLATES:
        number = make_mobile(rng)
        cases.append((template.format(number), [("phone", number)]))
    cases.append(("请拨打+86 13912345678咨询", [("phone", "+86 13912345678")]))
    for formatted in ("138-1234-5678", "139 8765 4321", "010-62751234", "(0571)88886666", "（020）83331234",
                      "0571 88886666"):
        cases.append((f"电话{formatted}，欢迎来电", [("phone", formatted)]))
    cases.append(("座机：62751234，工作日", [("phone", "62751234")]))
    cases.append(("电话01062751234找王老师", [("phone", "01062751234")]))
    for _ in range(6):
        number = make_id(rng)
        cases.append((f"身份证号{number}，请核对", [("id_card", number)]))
    lower_x = make_id(random.Random(99))
    while not lower_x.endswith("X"):
        lower_x = make_id(rng)
    cases.append((f"证件：{lower_x.lower()}。", [("id_card", lower_x.lower())]))
    for template, address in zip(EMAIL_TEMPLATES, ["abc@qq.com", "Zhang.San+cv@Example.COM.cn", "x_y-z@163.com", "ABC@QQ.COM"]):
        cases.append((template.format(address), [("email", address)]))
    for address in WRITTEN_EMAILS:
        cases.append((f"有问题请发邮件到{address}，谢谢", [("email", address)]))
    for template in QQ_TEMPLATES:
        number = str(rng.randrange(10_000, 10**10))
        cases.append((template.format(number), [("qq", number)]))
    for template, account in WECHAT_CASES:
        cases.append((template.format(account), [("wechat", account)]))
    union_pay = make_card(rng, "62", 19)
    cases.append((f"转账到{union_pay}即可", [("bank_card", union_pay)]))
    short_union_pay = make_card(rng, "622", 16)
    cases.append((f"收款：{short_union_pay}", [("bank_card", short_union_pay)]))
    for separator in (" ", "-"):
        digits = make_card(rng, "4", 16)
        grouped = separator.join(digits[i : i + 4] for i in range(0, 16, 4))
        cases.append((f"信用卡{grouped}，有效期", [("bank_card", grouped)]))
    digits = make_card(rng, "6", 19)
    grouped = " ".join(digits[i : i + 4] for i in range(0, 19, 4))
    cases.append((f"卡 {grouped} 户名张三", [("bank_card", grouped)]))
    visa = make_card(rng, "4", 16)
    cases.append((f"卡号：{visa}", [("bank_card", visa)]))
    everything = "我的手机号是13812345678，身份证11010519491231002X，QQ：123456789，邮箱abc@qq.com"
    cases.append((everything, [("phone", "13812345678"), ("id_card", "11010519491231002X"),
                               ("qq", "123456789"), ("email", "abc@qq.com")]))
    return cases


def both_widths() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every planted case as written and with its ASCII in full-width characters."""
    cases = planted_set()
    return cases + [(full_width(text), [(kind, full_width(value)) for kind, value in expected]) for text, expected in cases]


def test_every_planted_form_is_found_half_and_full_width_with_exact_spans() -> None:
    cases = both_widths()
    assert len(cases) >= 110
    kinds_seen = set()
    missed = []
    for text, expected in cases:
        hits = find_pii(text)
        if sorted((hit.kind, hit.value) for hit in hits) != sorted(expected):
            missed.append((text, [(hit.kind, hit.value) for hit in hits]))
        assert all(text[hit.start : hit.end] == hit.value for hit in hits)
        kinds_seen.update(kind for kind, _ in expected)
    assert missed == []
    assert kinds_seen == set(KINDS)


def test_redaction_replaces_exactly_the_original_characters_of_full_width_numbers() -> None:
    text = "手机１３８１２３４５６７８，ＱＱ：１２３４５６７８９，邮箱ｚｈａｎｇ［ａｔ］ｑｑ．ｃｏｍ。"
    assert redact(text) == ("手机<PHONE>，ＱＱ：<QQ>，邮箱<EMAIL>。", {"phone": 1, "qq": 1, "email": 1})
    assert len(half_width(text)) == len(text)


def test_redaction_masks_and_counts() -> None:
    text = "我的手机号是13812345678，身份证11010519491231002X，QQ：123456789，邮箱abc@qq.com"
    assert redact(text) == (
        "我的手机号是<PHONE>，身份证<ID>，QQ：<QQ>，邮箱<EMAIL>",
        {"phone": 1, "id_card": 1, "qq": 1, "email": 1},
    )
    assert redact("手机13812345678或13912345678") == ("手机<PHONE>或<PHONE>", {"phone": 2})
    assert redact(text, ("email",)) == (text.replace("abc@qq.com", "<EMAIL>"), {"email": 1})
    assert redact("微信：abc_123 卡号6222021234567890128") == ("微信：<WECHAT> 卡号<CARD>", {"wechat": 1, "bank_card": 1})
    assert set(PLACEHOLDERS) == set(KINDS)


def test_id_checksum_rejects_invalid_numbers() -> None:
    rng = random.Random(3)
    for _ in range(50):
        valid, invalid = make_id(rng), make_id(rng, valid=False)
        assert id_checksum_ok(valid) and not id_checksum_ok(invalid)
        assert find_pii(f"身份证{invalid}") == []
        assert [hit.kind for hit in find_pii(f"身份证{valid}")] == ["id_card"]
    assert id_checksum_ok("11010519491231002X") and id_checksum_ok("11010519491231002x")
    assert not id_checksum_ok("11010519491231002Y")


@pytest.mark.parametrize("birth", ["19900230", "20990101", "18991231", "20231301", "20230100", "20230431"])
def test_id_numbers_with_an_impossible_birth_date_are_not_masked_even_with_a_valid_checksum(birth: str) -> None:
    number = with_check_digit(f"110105{birth}123")
    assert id_checksum_ok(number)
    assert not id_birth_date_ok(number)
    assert find_pii(f"身份证{number}") == []


def test_id_birth_dates_that_exist_are_masked() -> None:
    for birth in ("19000101", "20000229", "19491001"):
        number = with_check_digit(f"110105{birth}123")
        assert [hit.value for hit in find_pii(f"身份证{number}")] == [number]
    assert not id_birth_date_ok(with_check_digit("110105" "20240601" "123"), today=date(2024, 5, 31))


# The fate of each kind of number, as docs/clean.md states it.
NUMBER_KINDS = [
    ("mobile", "电话13812345678", True),
    ("mobile, +86", "请拨打+8613812345678", True),
    ("landline with area code and hyphen", "电话010-62751234", True),
    ("landline with area code in brackets", "电话(010)62751234", True),
    ("landline, area code run together, after a phone word", "座机01062751234", True),
    ("landline without area code, after a phone word", "电话：62751234", True),
    ("landline, area code run together, no phone word", "编号01062751234", False),
    ("landline without area code, no phone word", "房间62751234", False),
    ("400 service number", "客服热线400-810-8888", False),
    ("400 service number run together", "客服电话4008108888", False),
    ("800 service number", "免费电话800-820-8820", False),
    ("800 service number run together", "热线8008208820", False),
    ("bank short number 95xxx", "客服电话95588", False),
    ("government hotline", "热线电话12345", False),
    ("emergency number", "电话110", False),
    ("11-digit non-mobile", "编号12345678901", False),
    ("11-digit non-mobile from 10", "流水10086123456", False),
    ("mobile inside a longer run", "条码613812345678", False),
]


@pytest.mark.parametrize("what, text, masked", NUMBER_KINDS, ids=[row[0] for row in NUMBER_KINDS])
def test_each_kind_of_number_has_its_stated_fate(what: str, text: str, masked: bool) -> None:
    hits = [hit for hit in find_pii(text) if hit.kind == "phone"]
    assert bool(hits) is masked, (what, hits)


LUHN_ORDER = make_card(random.Random(5), "4", 19)  # a Luhn-valid 19-digit order number, not a 62 prefix
LUHN_MID = make_card(random.Random(6), "48", 16)  # a Luhn-valid Weibo-mid-shaped number
LUHN_URL = make_card(random.Random(8), "62", 19)  # a card-shaped number that sits inside a URL

LOOK_ALIKES = [
    # Weibo post ids: 16-digit mids, 10-digit uids, base62 bids; status URLs carrying them.
    "转发自微博 4758855998177431 的评论", f"转发自微博 {LUHN_MID} 的评论", "用户uid 1234567890 发布",
    "https://weibo.com/1234567890/4758855998177431", "https://m.weibo.cn/status/L364I3366?mid=13812345678",
    "原文 http://t.cn/13812345678 点击", "详见 https://example.com/user/abc@qq.com/13812345678", "WID:L364I3366 的帖子",
    # Long numbers in URLs that are not cards or IDs (and one that is shaped like a card).
    "商品链接 https://item.jd.com/100012043978.html 速抢", f"https://item.taobao.com/item.htm?id={LUHN_URL}",
    "https://www.bilibili.com/video/BV1GJ411x7h7?t=13812345678",
    # Dates and times in every usual shape.
    "2024-01-15 比赛", "2024年1月15日 开幕", "20240115期", "2024/01/15 13:45:30", "1949年10月1日",
    "2024.01.15", "今晚19:30开播", "１９：３０开始", "2021年12月31日晨", "12月2日-8日举行", "1866.09.25－1945.12.04",
    # Prices, scores, counts, measures.
    "售价13999元", "￥1899起", "门票¥ 380/人", "比分 3:1", "比分3：1", "观看人数 138,123,456,789", "播放量1380000000次",
    "总比分98:95", "第六局11:12", "市值1332亿美元", "5000mAh大电池", "身高183cm体重75kg", "营收4500亿人民币",
    "３：１获胜", "１３９９９元",
    # Order, tracking and serial numbers.
    "编号123456789已发货", "订单号110105194912310021", "流水号9110105194912310029123", "订单号：202401150012345678",
    f"订单号 {LUHN_ORDER}", "快递单号SF1234567890123", "运单号 773012345678901", "发票号码 04400210011112345678",
    # Product names and versions.
    "iPhone 15 Pro发布", "iPhone14Pro的外观", "华为Mate 60 Pro", "小米14 Ultra", "OPPO Find X7", "iOS 17.2.1更新",
    "骁龙8 Gen 3", "RTX 4090显卡", "Wi-Fi7高并发", "ISOCELLHP1传感器", "A16芯片", "12+512GB",
    # Mentions, topics, e-mail-like words and keywords without a number.
    "感谢@北京日报 的报道 #北京冬奥会#", "@新浪体育：今天的比赛", "分享自@梨视频", "#科技#@微博会员小秘书",
    "QQ音乐上线新歌", "我在用qq聊天", "QQ音乐1-3元单曲", "奇瑞QQ冰淇淋", "腾讯的微信是平台", "关注微信公众号揭晓",
    "微信：扫码关注", "wx小程序", "meet at 8 dot", "# 话题 #",
    # 11-digit numbers that are not mobiles, phone-like digits glued to others.
    "条码 6913812345678", "交易号 138123456789", "编号12345678901", "20240115001号",
    # Public service numbers.
    "客服热线400-810-8888", "热线4008108888", "800-820-8820", "拨打95588", "市民热线12345",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_no_look_alike_is_touched(text: str) -> None:
    assert find_pii(text) == [], [(hit.kind, hit.value) for hit in find_pii(text)]
    assert redact(text) == (text, {})


def test_look_alike_list_is_large_and_its_tricky_numbers_are_what_they_claim() -> None:
    assert len(LOOK_ALIKES) >= 68
    assert luhn_ok(LUHN_ORDER) and luhn_ok(LUHN_MID) and luhn_ok(LUHN_URL)
    # The URL-protected number would be masked outside its URL.
    assert [hit.kind for hit in find_pii(f"卡号{LUHN_URL}")] == ["bank_card"]


def test_no_word_boundary_trap_phone_next_to_cjk() -> None:
    # `\b1[3-9]\d{9}\b` finds nothing here (CJK characters are \w); lookarounds do.
    assert [hit.value for hit in find_pii("手机号是13812345678，")] == ["13812345678"]


def test_gold_masking_keeps_length_tokens_and_tags() -> None:
    text = "预约电话：１８０７６３１５６３４ 上海迪士尼 联系 ab@qq.com"
    spans = [Span(18, 23, "LOC")]
    plan = mask_gold_text(text, spans)
    assert [hit.kind for hit in plan.masked] == ["phone", "email"] and plan.conflicts == []
    assert plan.text == "预约电话：*********** 上海迪士尼 联系 *********"
    assert len(plan.text) == len(text)
    assert spans_to_bio(char_tokens(plan.text), spans) == spans_to_bio(char_tokens(text), spans)
    assert find_pii(plan.text) == []
    # Word tokens (Twitter-2015): a grouped number keeps its spaces, so the tokens stay where they were.
    words = "call 138 1234 5678 now"
    masked = mask_gold_text(words, []).text
    assert masked == "call *** **** **** now"
    assert [(t.start, t.end) for t in whitespace_tokens(masked)] == [(t.start, t.end) for t in whitespace_tokens(words)]


def test_gold_masking_leaves_a_hit_on_an_entity_for_a_person() -> None:
    text = "欢迎致电北京饭店13812345678"
    entity = Span(4, 19, "ORG")  # the annotator tagged the number as part of the name
    plan = mask_gold_text(text, [entity])
    assert plan.text == text and plan.masked == []
    assert [(hit.value, span) for hit, span in plan.conflicts] == [("13812345678", entity)]
    allowed = mask_gold_text(text, [entity], allowed_values=["13812345678"])
    assert allowed.conflicts == [] and [hit.value for hit in allowed.allowed] == ["13812345678"]
    assert unreviewed_hits(text, '{"pii_allowed": ["13812345678"]}') == []
    assert [hit.value for hit in unreviewed_hits(text, "{}")] == ["13812345678"]
