"""Weibo post ids: the numeric `mid` and its base62 form `bid` (the 9-character id in post URLs).

A bid is the mid cut into groups of 7 decimal digits from the right, each group written in base62
(alphabet 0-9a-zA-Z) and left-padded to 4 characters, except the leftmost group. CMNER's WIDs are
bids, so cmner-build uses the bid as `post_id` and keeps the mid in the post's meta.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
MID_PATTERN = re.compile(r"^\d{1,20}$")
BID_PATTERN = re.compile(r"^[0-9A-Za-z]{1,12}$")


def _base62(number: int) -> str:
    if number == 0:
        return "0"
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def mid_to_bid(mid: str | int) -> str:
    """'4645748019299849' -> 'Kjc77D1jz'."""
    text = str(mid)
    if not MID_PATTERN.match(text):
        raise ValueError(f"not a Weibo mid: {mid!r}")
    groups = []
    end = len(text)
    while end > 0:
        start = max(0, end - 7)
        groups.append(text[start:end])
        end = start
    groups.reverse()
    parts = [_base62(int(group)) for group in groups]
    return parts[0] + "".join(part.rjust(4, "0") for part in parts[1:])


def bid_to_mid(bid: str) -> str:
    """'Kjc77D1jz' -> '4645748019299849'. Raises ValueError for a string that no mid produces."""
    if not BID_PATTERN.match(bid):
        raise ValueError(f"not a Weibo bid: {bid!r}")
    groups = []
    end = len(bid)
    while end > 0:
        start = max(0, end - 4)
        groups.append(bid[start:end])
        end = start
    groups.reverse()
    numbers = []
    for group in groups:
        value = 0
        for char in group:
            value = value * 62 + _VALUE[char]
        numbers.append(value)
    if any(number >= 10**7 for number in numbers[1:]):
        raise ValueError(f"not a Weibo bid: {bid!r} (a group exceeds 7 digits)")
    return str(numbers[0]) + "".join(str(number).rjust(7, "0") for number in numbers[1:])
