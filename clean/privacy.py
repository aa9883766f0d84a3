"""Privacy redaction: mobile and landline numbers, ID-card numbers, e-mail addresses, QQ numbers.

Each hit is replaced by a fixed mask (`<PHONE>`, `<ID>`, `<EMAIL>`, `<QQ>`) and counted. Patterns use
digit lookarounds, never `\\b` (CJK characters are `\\w`, so `\\b1[3-9]\\d{9}\\b` misses
`手机号是13812345678，`). Guards against false hits:

  * ID-card numbers must pass the ISO 7064 MOD 11-2 check digit and carry a plausible birth date;
  * QQ numbers are only redacted right after a keyword (qq / QQ号 / 扣扣 / 企鹅号): bare 5-11 digit
    numbers are everywhere (prices, uids, scores);
  * nothing inside a URL is touched, and a number that is part of a longer digit run (a 16-digit
    Weibo mid, a 10-digit uid) or of an alphanumeric id never matches;
  * dates (2024-01-15, 20240115) and prices do not have a phone's or an ID's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

MASKS: dict[str, str] = {"phone": "<PHONE>", "id_card": "<ID>", "email": "<EMAIL>", "qq": "<QQ>"}
PII_KINDS: tuple[str, ...] = tuple(MASKS)

_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+|(?<![A-Za-z0-9.])t\.cn/[A-Za-z0-9]+")

# Mobile: optional +86 / 86 prefix, 1[3-9] and 9 more digits (also written 138-1234-5678 or
# 138 1234 5678), not inside a longer digit or id run.
_MOBILE = r"(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:\d{8}|-\d{4}-\d{4}| \d{4} \d{4})"
# Landline: area code 0xx(x) with a hyphen (without one, 10-12 digit runs are too often something else).
_LANDLINE = r"(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-)[2-9]\d{6,7}"
PHONE = re.compile(rf"(?<![0-9A-Za-z_]){_MOBILE}(?![0-9])|(?<![0-9A-Za-z_\-]){_LANDLINE}(?![0-9])")
ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)
# Case-insensitive domain (Data-Juicer's lowercase-only class misses ABC@QQ.COM); ASCII only, so the
# address stops at the Chinese text after it; an @mention has no dotted ASCII domain, so it never matches.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}(?![A-Za-z])")
QQ = re.compile(
    r"(?i)(?:qq|扣扣|企鹅)(?:号码|号|群号|群)?[ ]*(?:是|为|:|：)?[ ]*(?:是|为)?[ ]*(?P<number>[1-9]\d{4,10})(?![0-9])"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class PiiHit:
    kind: str
    start: int
    end: int
    value: str


def find_pii(text: str, kinds: tuple[str, ...] = PII_KINDS) -> list[PiiHit]:
    """Non-overlapping hits sorted by position; an ID-card number wins over a phone inside it."""
    protected = [(m.start(), m.end()) for m in _URL.finditer(text)]
    candidates: list[PiiHit] = []
    finders: dict[str, Callable[[], list[PiiHit]]] = {
        "id_card": lambda: [PiiHit("id_card", m.start(), m.end(), m.group()) for m in ID_CARD.finditer(text)
                            if id_checksum_ok(m.group())],
        "email": lambda: [PiiHit("email", m.start(), m.end(), m.group()) for m in EMAIL.finditer(text)],
        "phone": lambda: [PiiHit("phone", m.start(), m.end(), m.group()) for m in PHONE.finditer(text)],
        "qq": lambda: [PiiHit("qq", m.start("number"), m.end("number"), m.group("number")) for m in QQ.finditer(text)],
    }
    for kind in ("id_card", "email", "phone", "qq"):  # priority order for overlaps
        if kind in kinds:
            candidates.extend(finders[kind]())
    chosen: list[PiiHit] = []
    for hit in candidates:
        if any(hit.start < end and start < hit.end for start, end in protected):
            continue
        if any(hit.start < other.end and other.start < hit.end for other in chosen):
            continue
        chosen.append(hit)
    return sorted(chosen, key=lambda hit: hit.start)


def redact(text: str, kinds: tuple[str, ...] = PII_KINDS) -> tuple[str, dict[str, int]]:
    """Replace every hit by its kind's mask. Returns the text and {kind: count} for kinds found."""
    hits = find_pii(text, kinds)
    if not hits:
        return text, {}
    pieces: list[str] = []
    position = 0
    counts: dict[str, int] = {}
    for hit in hits:
        pieces.append(text[position : hit.start])
        pieces.append(MASKS[hit.kind])
        position = hit.end
        counts[hit.kind] = counts.get(hit.kind, 0) + 1
    pieces.append(text[position:])
    return "".join(pieces), counts
