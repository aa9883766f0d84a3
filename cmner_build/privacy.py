"""What counts as private data: the one place that finds and masks it.

The clean stage redacts crawled posts with these rules, `clean --gold` masks gold posts with them,
`export` refuses a gold post that still holds a hit, and `stats` counts what is left. Kinds:

  * phone: mobile numbers (+86, 138-1234-5678, 138 1234 5678); landlines with an area code
    (010-62751234, (0571)88886666, 0571 88886666); a landline without an area code, or with the area
    code run together (62751234, 01062751234), only right after a phone word (电话, 座机, 固话, 热线, tel).
    Never: 400/800 service numbers (a company's public line), 95xxx/12345 short numbers, 11-digit
    numbers that are not mobiles (12345678901), numbers inside longer digit runs;
  * id_card: 18-character resident ID numbers with a valid ISO 7064 MOD 11-2 check digit AND a real
    birth date (no 30 February, no year before 1900, no date after today);
  * email: plain addresses, and written-out ones (zhang[at]qq.com, zhang(at)qq.com, zhang at qq dot com,
    zhang艾特qq.com, zhang@qq点com) when the domain ends in a common top-level domain;
  * qq: a 5-11 digit number right after QQ / QQ号 / QQ群号码 / 扣扣 / 企鹅号 / QQ/微信 / Q: (bare 5-11
    digit numbers are everywhere: prices, uids, scores);
  * wechat: an account id (6-20 characters from a letter, or a 5-11 digit number) right after 微信 /
    微信号 / vx / wx / V信 / weixin / wechat / 加V with a colon, 号 or 是;
  * bank_card: 16-19 digits passing the Luhn check, either grouped by 4 with spaces or dashes, or run
    together and starting with 62 (UnionPay) or after a card word (卡号, 银行卡, 信用卡, 账号, card).
    A run-together number with another prefix is too often a Weibo mid (16 digits) or an order number.

Full-width characters (１３８…, ＱＱ：, ＠) are matched as their half-width forms through a map that
keeps every character in place (full-width digits, letters and the signs the patterns use, and the
ideographic space; Chinese punctuation such as ，。！ is left alone), so every offset found on the
normalised text is an offset of the original and a mask replaces exactly the original characters.
NFKC would change lengths (`①` becomes `1`, `™` becomes `TM`). Nothing inside a URL is touched.
Patterns use lookarounds, never `\\b`: CJK characters are `\\w`, so `\\b` finds no boundary next to them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import CmnerError, ConfigError
from .model import Span

if TYPE_CHECKING:
    from .store import Store

KINDS: tuple[str, ...] = ("phone", "id_card", "email", "qq", "wechat", "bank_card")
# What `clean` puts in a crawled post (not annotated yet, so the length may change).
PLACEHOLDERS: dict[str, str] = {
    "phone": "<PHONE>", "id_card": "<ID>", "email": "<EMAIL>", "qq": "<QQ>", "wechat": "<WECHAT>", "bank_card": "<CARD>",
}
# Gold posts are masked character by character (spaces kept), so tokens and BIO tags stay aligned.
MASK_CHAR = "*"
# posts.meta key: hit values a person declared public for that post (a shop's hotline inside an entity).
ALLOWED_KEY = "pii_allowed"

# Full-width digits, letters and the signs the patterns use, to their half-width forms; dash look-alikes
# to '-'. Chinese punctuation such as ，。！ is left alone: no pattern needs it.
_WIDE_SIGNS = "＠＋－（）［］｛｝＜＞：．＃／＿％"
_HALF_WIDTH: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_HALF_WIDTH.update({code: code - 0xFEE0 for code in [*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]})
_HALF_WIDTH.update({ord(sign): ord(sign) - 0xFEE0 for sign in _WIDE_SIGNS})
_HALF_WIDTH.update({0x3000: 0x20, 0xFE6B: ord("@"), 0x2010: 0x2D, 0x2011: 0x2D, 0x2012: 0x2D, 0x2013: 0x2D, 0x2212: 0x2D})
_WIDE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_HALF_WIDTH)) + "]")

_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+|(?<![A-Za-z0-9.])t\.cn/[A-Za-z0-9]+")

_MOBILE = r"(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:\d{8}|-\d{4}-\d{4}| \d{4} \d{4})"
_AREA_LANDLINE = r"(?:\(0\d{2,3}\)[- ]?|0\d{2,3}[- ])[2-9]\d{6,7}"
PHONE = re.compile(rf"(?<![0-9A-Za-z_]){_MOBILE}(?![0-9])|(?<![0-9A-Za-z_\-]){_AREA_LANDLINE}(?![0-9])")
# A landline without a separated area code only counts right after a phone word; 400/800 numbers
# never fit (they have 10 digits and start with 4 or 8 after no area code).
KEYWORD_LANDLINE = re.compile(
    r"(?i)(?:电话|座机|固话|热线|(?<![A-Za-z])tel)(?:号码|号)?[ ]*(?:是|为)?[ ]*:?[ ]*"
    r"(?P<value>(?:0\d{2,3})?[2-9]\d{6,7})(?![0-9])"
)
ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}\d{4}\d{3}[\dXx](?![0-9A-Za-z])")
# Case-insensitive domain (Data-Juicer's lowercase-only class misses ABC@QQ.COM); ASCII only, so the
# address stops at the Chinese text after it; an @mention has no dotted ASCII domain, so it never matches.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}(?![A-Za-z])")
_OPEN, _CLOSE = r"[\[(<{【]", r"[\])>}】]"
_AT = rf"(?:@|[ ]*{_OPEN}[ ]*at[ ]*{_CLOSE}[ ]*|[ ]+at[ ]+|[ ]*艾特[ ]*)"
_DOT = rf"(?:\.|[ ]*{_OPEN}[ ]*dot[ ]*{_CLOSE}[ ]*|[ ]+dot[ ]+|[ ]*点[ ]*|。)"
_TLD = r"(?:com|cn|net|org|edu|gov|cc|io|me|top|info|hk|tw)"
WRITTEN_EMAIL = re.compile(
    rf"(?i)(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+{_AT}[A-Za-z0-9\-]+(?:{_DOT}[A-Za-z0-9\-]+)*{_DOT}{_TLD}(?![A-Za-z])"
)
_MARK = r"[ ]*(?:是|为)?[ ]*:?[ ]*(?:是|为)?[ ]*"
_QQ_WORD = r"(?:qq|扣扣|企鹅)(?:[/、&和或]?(?:微信|wx|vx|v信|weixin|wechat))?(?:群号码|群号|号码|账号|群|号)?"
QQ = re.compile(rf"(?i)(?<![A-Za-z])(?:{_QQ_WORD}{_MARK}|q[ ]*:[ ]*)(?P<value>[1-9]\d{{4,10}})(?![0-9])")
_WECHAT_WORD = r"(?:微信|薇信|威信|v信|vx|wx|weixin|wechat|加v|加微)"
WECHAT = re.compile(
    rf"(?i)(?<![A-Za-z]){_WECHAT_WORD}(?:(?:号码|号|id)[ ]*(?:是|为)?[ ]*:?|[ ]*(?:是|为)[ ]*:?|[ ]*:)[ ]*"
    r"(?P<value>[A-Za-z][-_A-Za-z0-9]{5,19}|[1-9]\d{4,10})(?![-_A-Za-z0-9])"
)
GROUPED_CARD = re.compile(r"(?<![0-9A-Za-z\-])\d{4}([ -])\d{4}(?:\1\d{4}){2}(?:\1\d{1,3})?(?![0-9]|[ -]\d)")
RUN_CARD = re.compile(r"(?<![0-9A-Za-z])\d{16,19}(?![0-9A-Za-z])")
_CARD_WORD = re.compile(r"(?i)(?:卡号|银行卡|信用卡|储蓄卡|借记卡|账号|帐号|card)")

# Changes whenever a pattern changes: part of the clean stage's settings fingerprint, so posts cleaned
# under other rules are noticed.
RULES_FINGERPRINT = hashlib.sha256("\n".join(
    pattern.pattern for pattern in (_URL, PHONE, KEYWORD_LANDLINE, ID_CARD, EMAIL, WRITTEN_EMAIL, QQ, WECHAT,
                                    GROUPED_CARD, RUN_CARD, _CARD_WORD)
).encode("utf-8")).hexdigest()[:16]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class PiiHit:
    kind: str
    start: int  # code points into the original text, end exclusive
    end: int
    value: str  # the original characters


def half_width(text: str) -> str:
    """Full-width letters, digits and signs as half-width ones; same length, every character in place."""
    return text.translate(_HALF_WIDTH) if _WIDE.search(text) else text


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def id_birth_date_ok(number: str, today: date | None = None) -> bool:
    """Characters 7-14 are a real calendar date between 1900-01-01 and today."""
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= (today or date.today())


def id_number_ok(number: str) -> bool:
    return id_checksum_ok(number) and id_birth_date_ok(number)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _cards(text: str) -> list[tuple[int, int]]:
    found = []
    for match in GROUPED_CARD.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 16 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(match.span())
    for match in RUN_CARD.finditer(text):
        digits = match.group()
        after_card_word = _CARD_WORD.search(text[max(0, match.start() - 8) : match.start()]) is not None
        if luhn_ok(digits) and (digits.startswith("62") or after_card_word):
            found.append(match.span())
    return found


def _spans(pattern: re.Pattern[str], text: str, group: str | int = 0,
           keep: Callable[[str], bool] | None = None) -> list[tuple[int, int]]:
    return [match.span(group) for match in pattern.finditer(text) if keep is None or keep(match.group(group))]


# Priority order for overlaps: an ID number wins over a phone inside it, a card over a QQ number, ...
_FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "id_card": lambda text: _spans(ID_CARD, text, keep=id_number_ok),
    "bank_card": _cards,
    "email": lambda text: _spans(EMAIL, text) + _spans(WRITTEN_EMAIL, text),
    "phone": lambda text: _spans(PHONE, text) + _spans(KEYWORD_LANDLINE, text, "value"),
    "qq": lambda text: _spans(QQ, text, "value"),
    "wechat": lambda text: _spans(WECHAT, text, "value"),
}
# Cheap tests that rule a kind out (most posts hold no long number): a kind is only searched when its
# gate holds. Each gate is implied by every pattern of its kind; plain substring tests run at C speed.
_LONG_DIGITS = re.compile(r"\d{5}|\d{3}[ \-)]\d{4}|\d{4}[ \-]\d{4}")
_AT_MARK = re.compile(rf"{_OPEN} *at *{_CLOSE}| at ")
_WECHAT_WORDS = ("微信", "薇信", "威信", "v信", "vx", "wx", "weixin", "wechat", "加v", "加微")


def _gates(normal: str) -> dict[str, bool]:
    lower = normal.lower()
    digits = _LONG_DIGITS.search(normal) is not None
    return {
        "id_card": digits,
        "bank_card": digits,
        "email": "@" in normal or "艾特" in normal or ("at" in lower and _AT_MARK.search(lower) is not None),
        "phone": digits,
        "qq": digits and ("q" in lower or "扣扣" in normal or "企鹅" in normal),
        "wechat": any(word in lower for word in _WECHAT_WORDS),
    }


def find_pii(text: str, kinds: Sequence[str] = KINDS) -> list[PiiHit]:
    """Non-overlapping hits sorted by position, with offsets and values of the original text."""
    normal = half_width(text)
    gates = _gates(normal)
    protected: list[tuple[int, int]] | None = None
    chosen: list[PiiHit] = []
    for kind, finder in _FINDERS.items():
        if kind not in kinds or not gates[kind]:
            continue
        for start, end in sorted(finder(normal)):
            if protected is None:
                protected = [match.span() for match in _URL.finditer(text)]
            if any(start < b and a < end for a, b in protected):
                continue
            if any(start < hit.end and hit.start < end for hit in chosen):
                continue
            chosen.append(PiiHit(kind, start, end, text[start:end]))
    return sorted(chosen, key=lambda hit: hit.start)


def count_kinds(hits: Iterable[PiiHit]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.kind] = counts.get(hit.kind, 0) + 1
    return counts


def redact(text: str, kinds: Sequence[str] = KINDS) -> tuple[str, dict[str, int]]:
    """Replace every hit by its kind's placeholder. Returns the text and {kind: count} for kinds found."""
    hits = find_pii(text, kinds)
    pieces: list[str] = []
    position = 0
    for hit in hits:
        pieces.append(text[position : hit.start])
        pieces.append(PLACEHOLDERS[hit.kind])
        position = hit.end
    pieces.append(text[position:])
    return "".join(pieces), count_kinds(hits)


def mask_same_length(text: str, hits: Iterable[PiiHit]) -> str:
    """Every non-space character of each hit becomes MASK_CHAR: same length, same token boundaries."""
    characters = list(text)
    for hit in hits:
        for index in range(hit.start, hit.end):
            if not characters[index].isspace():
                characters[index] = MASK_CHAR
    return "".join(characters)


@dataclass
class GoldMasking:
    """What masking one gold post would do: its new text, the hits masked, the hits left for a person."""

    text: str
    masked: list[PiiHit]
    conflicts: list[tuple[PiiHit, Span]]  # a hit overlapping an entity span: not masked
    allowed: list[PiiHit]  # hits a person declared public for this post


def mask_gold_text(text: str, spans: Sequence[Span], kinds: Sequence[str] = KINDS,
                   allowed_values: Iterable[str] = ()) -> GoldMasking:
    """Mask the hits that touch no entity span; report the ones that do instead of guessing."""
    allowed_set = set(allowed_values)
    masked: list[PiiHit] = []
    conflicts: list[tuple[PiiHit, Span]] = []
    allowed: list[PiiHit] = []
    for hit in find_pii(text, kinds):
        if hit.value in allowed_set:
            allowed.append(hit)
            continue
        overlapping = next((span for span in spans if hit.start < span.end and span.start < hit.end), None)
        if overlapping is not None:
            conflicts.append((hit, overlapping))
        else:
            masked.append(hit)
    return GoldMasking(mask_same_length(text, masked), masked, conflicts, allowed)


def allowed_values(meta: str | dict[str, Any] | None) -> list[str]:
    """The hit values a person declared public for a post, from posts.meta."""
    if isinstance(meta, str):
        try:
            meta = json.loads(meta or "{}")
        except json.JSONDecodeError:
            return []
    if not isinstance(meta, dict):
        return []
    values = meta.get(ALLOWED_KEY, [])
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []


def unreviewed_hits(text: str, meta: str | dict[str, Any] | None, kinds: Sequence[str] = KINDS) -> list[PiiHit]:
    """The hits of a post that nobody declared public: what an export must not contain."""
    allowed = set(allowed_values(meta))
    return [hit for hit in find_pii(text, kinds) if hit.value not in allowed]


def kinds_from_settings(settings: Any) -> tuple[str, ...]:
    """clean.redact from cmner.toml, checked, in the order of KINDS."""
    where = str(settings.path) if getattr(settings, "path", None) else "cmner.toml"
    chosen = settings.get("clean", "redact", list, list(KINDS))
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown:
        raise ConfigError(f"{where}: clean.redact: unknown kind(s) {unknown}; choose from {', '.join(KINDS)}")
    return tuple(kind for kind in KINDS if kind in chosen)


def private_data_by_post(store: "Store", kinds: Sequence[str] = KINDS,
                         statuses: Sequence[str] | None = None) -> dict[str, list[PiiHit]]:
    """Hits nobody declared public, by post, over the posts in the given statuses (all but dropped by default)."""
    if statuses is None:
        rows = store.query("SELECT post_id, text, meta FROM posts WHERE status != 'dropped' ORDER BY rowid")
    else:
        rows = store.query(
            f"SELECT post_id, text, meta FROM posts WHERE status IN ({','.join('?' * len(statuses))}) ORDER BY rowid",
            tuple(statuses),
        )
    found: dict[str, list[PiiHit]] = {}
    for row in rows:
        hits = unreviewed_hits(row["text"], row["meta"], kinds)
        if hits:
            found[row["post_id"]] = hits
    return found


def refuse_private_data(store: "Store", kinds: Sequence[str] = KINDS) -> None:
    """Stop before anything is written when a gold post still holds private data the rules would mask."""
    found = private_data_by_post(store, kinds, ("gold",))
    if not found:
        return
    named = ", ".join(f"{post_id} ({', '.join(sorted(count_kinds(hits)))})" for post_id, hits in list(found.items())[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    raise CmnerError(
        f"export stopped: {len(found)} gold posts still hold private data: {named}{more}. "
        "Mask it with `cmner-build clean --gold` (a hit inside an entity needs --allow-pii POST_ID or "
        "--drop-entity POST_ID); `cmner-build stats` lists what is left"
    )


def private_data_summary(store: "Store", kinds: Sequence[str] = KINDS, examples: int = 10) -> dict[str, Any]:
    """What `stats` reports: hits still in the corpus (not dropped), by kind, and the gold posts holding some."""
    found = private_data_by_post(store, kinds)
    gold = {row[0] for row in store.execute("SELECT post_id FROM posts WHERE status = 'gold'")}
    by_kind = {kind: 0 for kind in kinds}
    for hits in found.values():
        for kind, count in count_kinds(hits).items():
            by_kind[kind] += count
    gold_posts = [post_id for post_id in found if post_id in gold]
    return {
        "kinds": list(kinds),
        "hits_by_kind": by_kind,
        "hits_total": sum(by_kind.values()),
        "posts": len(found),
        "gold_posts": len(gold_posts),
        "gold_post_ids": gold_posts[:examples],
    }
