"""`mblog.created_at` in the forms Weibo has used, to ISO-8601.

    'Tue Jun 08 09:35:04 +0800 2021'  -> '2021-06-08T09:35:04+08:00'   (the API form since ~2020)
    '2019-06-14'                      -> '2019-06-14'
    '06-14'                           -> '2019-06-14'  (2019 timelines: this year, relative to `now`)
    '今天 10:21' / '昨天 10:21'        -> '2019-06-15T10:21:00+08:00'
    '刚刚', '5秒前', '5分钟前', '3小时前' -> `now` minus that, to the minute
    '2019年06月14日 10:21', '06月14日 10:21'  (s.weibo.com display forms)

Relative forms need `now`: the time the response was fetched (the archive records it). Weibo shows
times in China Standard Time, so relative forms are read in UTC+8. Unknown forms give None; the
caller keeps the raw string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))

_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_FULL_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_FULL_DATE_TIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_TODAY = re.compile(r"^今天\s*(\d{1,2}):(\d{2})$")
_YESTERDAY = re.compile(r"^昨天\s*(\d{1,2}):(\d{2})$")
_AGO = re.compile(r"^(\d+)\s*(秒|分钟|小时)前$")
_CN_FULL = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})$")
_CN_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class ParsedDate:
    iso: str
    precision: str  # second | minute | day


def parse_created_at(raw: str | None, now: datetime | None = None) -> ParsedDate | None:
    if not raw or not isinstance(raw, str):
        return None
    value = raw.strip()
    try:
        stamp = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
        return ParsedDate(stamp.isoformat(), "second")
    except ValueError:
        pass
    now = (now or datetime.now(CHINA)).astimezone(CHINA)
    try:
        if match := _FULL_DATE.match(value):
            return ParsedDate(date(*map(int, match.groups())).isoformat(), "day")
        if match := _FULL_DATE_TIME.match(value):
            y, mo, d, h, mi, s = match.groups()
            stamp = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=CHINA)
            return ParsedDate(stamp.isoformat(), "second" if s else "minute")
        if match := _MONTH_DAY.match(value):
            day = date(now.year, int(match.group(1)), int(match.group(2)))
            if day > now.date():  # '12-30' read on 01-02 is last year's
                day = day.replace(year=now.year - 1)
            return ParsedDate(day.isoformat(), "day")
        if value == "刚刚":
            return ParsedDate(now.replace(second=0, microsecond=0).isoformat(), "minute")
        if match := _AGO.match(value):
            amount, unit = int(match.group(1)), match.group(2)
            delta = {"秒": timedelta(seconds=amount), "分钟": timedelta(minutes=amount), "小时": timedelta(hours=amount)}[unit]
            return ParsedDate((now - delta).replace(second=0, microsecond=0).isoformat(), "minute")
        if match := _TODAY.match(value):
            stamp = now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
            return ParsedDate(stamp.isoformat(), "minute")
        if match := _YESTERDAY.match(value):
            stamp = (now - timedelta(days=1)).replace(
                hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0
            )
            return ParsedDate(stamp.isoformat(), "minute")
        if match := _CN_FULL.match(value):
            stamp = datetime(*map(int, match.groups()), tzinfo=CHINA)
            return ParsedDate(stamp.isoformat(), "minute")
        if match := _CN_MONTH_DAY.match(value):
            month, day_of_month, hour, minute = map(int, match.groups())
            stamp = datetime(now.year, month, day_of_month, hour, minute, tzinfo=CHINA)
            if stamp > now:
                stamp = stamp.replace(year=now.year - 1)
            return ParsedDate(stamp.isoformat(), "minute")
    except ValueError:  # e.g. '02-30'
        return None
    return None


def parse_day(value: str) -> date:
    """A --since / --until value: YYYY-MM-DD."""
    return date.fromisoformat(value)
