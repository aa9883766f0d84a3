"""crawl.parse / html_text / dates / ids: synthetic cases, then every real response in ../shared/data/weibo."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from cmner_build.crawl.dates import CHINA, parse_created_at
from cmner_build.crawl.endpoints import describe_url, id_in_name, index_url, topic_of_containerid
from cmner_build.crawl.html_text import flatten_html
from cmner_build.crawl.ids import bid_to_mid, mid_to_bid
from cmner_build.crawl.parse import (
    ParseError,
    is_captcha,
    normalize_image_url,
    parse_count,
    parse_detail,
    parse_extend,
    parse_index,
    parse_mblog,
)
from cmner_build.crawl.record import drop_reason_for

WEIBO = "weibo"
AK = "MountainDash+nonebot-bison__tests__platforms__static__weibo_ak_list_0.json"
YS = "MountainDash+nonebot-bison__tests__platforms__static__weibo_ys_list_0.json"
DETAIL = "MountainDash+nonebot-bison__tests__platforms__static__weibo_detail_4645748019299849"
ERR = "MountainDash+nonebot-bison__tests__platforms__static__weibo_err_profile.json"
JS_2019 = "gottaegbert+weiboAPI__old__response.js"


# -- ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mid, bid",
    [("4645748019299849", "Kjc77D1jz"), ("4383183661430868", "HyTZc60ew"), ("4655401851422792", "KnffP5Y8g"),
     ("4383411844046171", "HyZVegYAP")],
)
def test_mid_and_bid_convert_both_ways(mid: str, bid: str) -> None:
    assert mid_to_bid(mid) == bid
    assert bid_to_mid(bid) == mid


def test_bid_conversion_rejects_what_no_mid_produces() -> None:
    with pytest.raises(ValueError):
        bid_to_mid("ZN3qAEki4")  # a sample id: its 4-character groups exceed 7 digits
    with pytest.raises(ValueError):
        mid_to_bid("12ab")


# -- HTML flattening ------------------------------------------------------------------------------


def test_flatten_keeps_topics_emoji_alt_link_labels_and_line_breaks() -> None:
    html = (
        '<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23%E4%BD%93%E8%82%B2%23" '
        'data-hide=""><span class="surl-text">#体育#</span></a>赢了！<span class="url-icon"><img alt=[偷笑] '
        'src="//h5.sinaimg.cn/x.png" style="width:1em; height:1em;" /></span><br />第二行 '
        "<a href='/n/微博抽奖平台'>@微博抽奖平台</a> <a data-url=\"http://t.cn/A6x\" href=\"https://weibo.cn/sinaurl?u=x\">"
        "<span class='url-icon'><img style='width: 1rem;height: 1rem' src='https://h5.sinaimg.cn/web.png'></span>"
        '<span class="surl-text">网页链接</span></a> a&amp;b\u200b '
        '<span class="surl-text"># 人到最后还是一场空#</span>'
    )
    flat = flatten_html(html)
    assert flat.text == "#体育#赢了！[偷笑]\n第二行 @微博抽奖平台 网页链接 a&b\u200b # 人到最后还是一场空#"
    assert flat.topics == ["体育", "人到最后还是一场空"]
    assert not flat.truncated


def test_flatten_removes_the_truncation_link_and_reports_its_id() -> None:
    flat = flatten_html('前面的内容，还没写完 ...<a href="/status/4645748019299849">全文</a>')
    assert flat.text == "前面的内容，还没写完"
    assert flat.truncated and flat.status_id == "4645748019299849"
    # a link labelled 全文 elsewhere is ordinary text
    assert flatten_html('<a href="https://example.com">全文</a>数据库').text == "全文数据库"


# -- dates, counts, URLs ---------------------------------------------------------------------------

NOW = datetime(2019, 6, 15, 12, 30, tzinfo=CHINA)


@pytest.mark.parametrize(
    "raw, iso, precision",
    [
        ("Tue Jun 08 09:35:04 +0800 2021", "2021-06-08T09:35:04+08:00", "second"),
        ("06-14", "2019-06-14", "day"),
        ("12-30", "2018-12-30", "day"),  # a later month-day than `now` is last year's
        ("2018-03-02", "2018-03-02", "day"),
        ("今天 10:21", "2019-06-15T10:21:00+08:00", "minute"),
        ("昨天 23:05", "2019-06-14T23:05:00+08:00", "minute"),
        ("刚刚", "2019-06-15T12:30:00+08:00", "minute"),
        ("5分钟前", "2019-06-15T12:25:00+08:00", "minute"),
        ("3小时前", "2019-06-15T09:30:00+08:00", "minute"),
        ("2019年06月01日 08:07", "2019-06-01T08:07:00+08:00", "minute"),
        ("06月01日 08:07", "2019-06-01T08:07:00+08:00", "minute"),
    ],
)
def test_created_at_forms(raw: str, iso: str, precision: str) -> None:
    parsed = parse_created_at(raw, NOW)
    assert parsed is not None and (parsed.iso, parsed.precision) == (iso, precision)


@pytest.mark.parametrize("raw", ["", None, "很久以前", "02-30", "Xyz Jun 08"])
def test_unknown_dates_give_none(raw: str | None) -> None:
    assert parse_created_at(raw, NOW) is None


def test_counts_and_image_urls() -> None:
    assert [parse_count(v) for v in (12, "1.2万", "3亿", "100万+", "", None, "n/a")] == [
        12, 12000, 300000000, 1000000, None, None, None]
    assert normalize_image_url("//wx3.sinaimg.cn/orj360/abc.jpg") == "https://wx3.sinaimg.cn/large/abc.jpg"
    assert normalize_image_url("http://wx4.sinaimg.cn/mw2000/abc.gif") == "https://wx4.sinaimg.cn/large/abc.gif"
    assert normalize_image_url("https://ww1.sinaimg.cn/thumb150/abc.jpg") == "https://ww1.sinaimg.cn/large/abc.jpg"
    assert normalize_image_url("http://127.0.0.1:9/x/abc.jpg") == "http://127.0.0.1:9/x/abc.jpg"


def test_urls_read_back() -> None:
    url = index_url("https://m.weibo.cn", "231522type=1&t=10&q=#体育#", page=3)
    assert describe_url(url) == {"kind": "index", "containerid": "231522type=1&t=10&q=#体育#", "id": None}
    assert topic_of_containerid("231522type=1&t=10&q=#体育#") == "体育"
    assert topic_of_containerid("100103type=1&q=#科技#") == "科技"
    assert topic_of_containerid("1076036279793937") is None
    assert describe_url("https://m.weibo.cn/statuses/extend?id=4645748019299849")["id"] == "4645748019299849"
    assert id_in_name(DETAIL) == "4645748019299849"
    assert id_in_name("long-text-b.json") is None


def test_reply_shapes() -> None:
    assert is_captcha({"url": "https://security.weibo.com/captcha"})
    assert not is_captcha({"ok": 1, "data": {}, "url": "x"})
    assert parse_index({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}).is_end_reply
    assert not parse_index({"ok": 0, "msg": "请求过于频繁,歇歇吧"}).is_end_reply
    with pytest.raises(ParseError):
        parse_index({"cards": []})
    with pytest.raises(ParseError):
        parse_extend({"ok": 0, "msg": "该微博不存在"})
    with pytest.raises(ParseError):
        parse_detail("<html>请登录</html>")


def test_mblog_without_bid_gets_it_from_mid_and_pic_ids_give_urls() -> None:
    post = parse_mblog({"mid": "4645748019299849", "text": "图", "pic_ids": ["p1", "p2"], "user": {"id": 5}})
    assert post.post_id == "Kjc77D1jz"
    assert post.image_urls == ["https://wx1.sinaimg.cn/large/p1.jpg", "https://wx1.sinaimg.cn/large/p2.jpg"]
    assert post.pic_num == 2 and not post.needs_detail
    assert drop_reason_for(post) is None
    video = parse_mblog({"mid": "1", "bid": "b", "text": "t", "pics": [{"type": "video", "videoSrc": "v"}]})
    assert video.image_urls == [] and drop_reason_for(video) == "no_images"
    deleted = parse_mblog({"mid": "2", "bid": "c", "text": "已删除", "deleted": "1", "user": None})
    assert drop_reason_for(deleted) == "deleted"


# -- real responses ------------------------------------------------------------------------------


def _load(shared_data: Path, name: str) -> dict:
    path = shared_data / WEIBO / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text(encoding="utf-8"))


def _summaries(page) -> list[tuple]:
    rows = []
    for mblog in page.mblogs:
        post = parse_mblog(mblog)
        rows.append((post.post_id, post.is_long_text, len(post.image_urls), post.pic_num, drop_reason_for(post)))
    return rows


def test_real_timeline_since_id_page(shared_data: Path) -> None:
    page = parse_index(_load(shared_data, AK))
    assert (page.ok, page.next_page, page.since_id, page.total) == (1, None, "4646131823281332", 1221)
    assert _summaries(page) == [
        ("Kjc77D1jz", True, 0, 0, "no_images"),  # pinned video post
        ("Kkzwhj69V", True, 1, 1, None),
        ("KktFEsjrO", False, 0, 0, "repost"),
        ("Kk8Ont6Jh", False, 1, 1, None),
        ("KjOcXC8QD", True, 1, 1, None),
        ("KjOcn14sr", False, 1, 1, None),
        ("KjGwDCBjI", False, 4, 4, None),
        ("KjxuDiFJX", True, 6, 6, None),
        ("KjvJl6r9R", True, 1, 1, None),
        ("KjnFx7Z6W", True, 1, 1, None),
    ]
    first, fourth, seventh = (parse_mblog(page.mblogs[i]) for i in (0, 3, 6))
    assert first.is_pinned and first.truncated and first.mid == "4645748019299849"
    assert first.topics == ["明日方舟", "音律联觉"]
    assert first.posted_at == "2021-06-08T09:35:04+08:00" and first.user_id == "6279793937"
    assert fourth.text == "#明日方舟#\n“博士！端午节安康！要来试试一起包粽子吗？”"
    assert fourth.image_urls == ["https://wx1.sinaimg.cn/large/006QZngZgy1grht0d1dbij31hc0u0kjl.jpg"]
    assert [url.rsplit(".", 1)[1] for url in seventh.image_urls] == ["jpg", "gif", "gif", "gif"]


def test_real_timeline_page_mode_with_a_13_picture_post(shared_data: Path) -> None:
    page = parse_index(_load(shared_data, YS))
    assert (page.next_page, page.since_id, page.total) == (2, None, 582)
    summaries = _summaries(page)
    assert [row[0] for row in summaries] == [
        "KgV9HcUPR", "KnowibLCw", "KnnJ8tlW7", "Knn3NF6lj", "Knmy7hCyD", "KnmcRCcUr", "Knl25vKYu", "Knkbyh71n",
        "Kng8wpl7B", "KnffP5Y8g", "Kneglf4f0",
    ]
    assert [row[4] for row in summaries].count(None) == 5
    assert [row[4] for row in summaries].count("no_images") == 5
    thirteen = parse_mblog(page.mblogs[9])
    assert (len(thirteen.image_urls), thirteen.pic_num, thirteen.needs_detail) == (9, 13, True)
    assert thirteen.topics == ["2021lpl"]
    pinned = parse_mblog(page.mblogs[0])
    assert pinned.is_pinned and pinned.is_long_text and len(pinned.image_urls) == 9 and not pinned.needs_detail


def test_real_statuses_extend_completes_the_truncated_post(shared_data: Path) -> None:
    long_html = parse_extend(_load(shared_data, DETAIL))
    flat = flatten_html(long_html)
    assert flat.topics == ["明日方舟", "音律联觉"]
    assert len(flat.text) == 389 and not flat.truncated
    assert flat.text.endswith("开奖后奖品会在出货后寄出。 明日方舟Arknights的微博视频 抽奖详情")
    # the list text it completes is a prefix of it (spaces aside)
    truncated = parse_mblog(parse_index(_load(shared_data, AK)).mblogs[0]).text
    assert re.sub(r"\s", "", flat.text).startswith(re.sub(r"\s", "", truncated))


def test_real_end_reply(shared_data: Path) -> None:
    page = parse_index(_load(shared_data, ERR))
    assert page.is_end_reply and page.mblogs == []


def _js_objects(path: Path) -> dict[str, dict]:
    """The 2019 dump is JavaScript (`let name = {...};`, trailing commas): one JSON body per object."""
    objects = {}
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^let (\w+) = ", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        body = re.sub(r",(\s*[}\]])", r"\1", body.strip().rstrip(";"))
        try:
            objects[name] = json.loads(body)
        except json.JSONDecodeError:
            continue  # the `requests` URL list
    return objects


def test_real_2019_responses(shared_data: Path) -> None:
    path = shared_data / WEIBO / JS_2019
    if not path.exists():
        pytest.skip(f"{path} is absent")
    objects = _js_objects(path)
    page = parse_index(objects["cards1"])
    assert (page.next_page, page.containerid, len(page.mblogs)) == (2, "1076031669879400", 10)
    fetched = datetime(2019, 6, 15, 12, 0, tzinfo=CHINA)  # statuses/show in the same dump is of 2019-06-15
    posts = [parse_mblog(mblog, now=fetched) for mblog in page.mblogs]
    assert [(p.post_id, p.posted_at, len(p.image_urls), drop_reason_for(p)) for p in posts] == [
        ("HyTZc60ew", "2019-06-14", 3, None),
        ("HyTTWshxs", "2019-06-14", 0, "repost"),
        ("HyqCimJ3e", "2019-06-11", 0, "no_images"),
        ("Hy7j30UgU", "2019-06-09", 0, "no_images"),
        ("Hy4znv1bs", "2019-06-09", 4, None),
        ("HxMCXBXD5", "2019-06-07", 2, None),
        ("HxuD9hVqR", "2019-06-05", 1, None),
        ("Hxe42nsFG", "2019-06-03", 1, None),
        ("Hx6npFlB6", "2019-06-03", 0, "no_images"),
        ("HwWvIaFRt", "2019-06-01", 6, None),
    ]
    assert all(p.posted_at_precision == "day" and p.pic_num == len(p.image_urls) for p in posts)  # no pic_num in 2019
    assert not any(p.is_long_text for p in posts)
    assert posts[0].text == "搬完这块砖，就可以吃好吃的了[偷笑][偷笑][偷笑]"
    assert posts[5].topics == ["比耶季", "高考加油"]
    assert posts[0].image_urls[1] == "https://wx4.sinaimg.cn/large/63885668gy1g40ysojhntj22b52b51kz.jpg"
    shown = parse_mblog(objects["retweet01"]["data"], now=fetched)
    assert (shown.post_id, shown.posted_at, shown.is_repost) == ("HyZVegYAP", "2019-06-15T11:44:46+08:00", True)
    long_text = flatten_html(parse_extend(objects["statuses1"])).text
    assert long_text.startswith("😄😆😊") and len(long_text) > 100
