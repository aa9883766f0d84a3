"""Vocabularies for ACN: tokens (characters for CMNER, words for Twitter), their characters, bigrams.

Tags are fixed: the nine BIO tags over PER / LOC / ORG / MISC, in `cmner_build.model.BIO_TAGS` order.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from cmner_build.model import BIO_TAGS

PAD = "[PAD]"
UNK = "[UNK]"
SENTENCE_START = "<s>"
SENTENCE_END = "</s>"
TAG_TO_ID: dict[str, int] = {tag: index for index, tag in enumerate(BIO_TAGS)}
_DIGIT = re.compile(r"\d")


def normalize_token(token: str) -> str:
    """Lower-case and map every digit to 0 (the reference's <NUMBER> idea, kept per digit)."""
    return _DIGIT.sub("0", token.lower())


def bigrams_of(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """(left, right) bigram of each position: previous+current and current+next, padded with <s> / </s>."""
    padded = [SENTENCE_START, *tokens, SENTENCE_END]
    return [(padded[i] + padded[i + 1], padded[i + 1] + padded[i + 2]) for i in range(len(tokens))]


class Vocab:
    """A list of items with [PAD]=0 and [UNK]=1; unknown items encode as [UNK]."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items: list[str] = [PAD, UNK]
        self.index: dict[str, int] = {PAD: 0, UNK: 1}
        for item in items:
            self.add(item)

    def add(self, item: str) -> int:
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)
        return self.index[item]

    @classmethod
    def from_list(cls, items: Sequence[str]) -> "Vocab":
        """The inverse of `to_list` (which starts with [PAD], [UNK])."""
        if list(items[:2]) != [PAD, UNK]:
            raise ValueError(f"a saved vocabulary starts with {PAD} and {UNK}")
        return cls(items[2:])

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_count: int = 1) -> "Vocab":
        counts = Counter(item for sequence in sequences for item in sequence)
        # Most frequent first, ties alphabetically: the same data always gives the same ids.
        return cls(item for item, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if count >= min_count)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    def encode(self, items: Iterable[str]) -> list[int]:
        return [self.index.get(item, 1) for item in items]

    def to_list(self) -> list[str]:
        return list(self.items)


def encode_tags(tags: Sequence[str]) -> list[int]:
    return [TAG_TO_ID[tag] for tag in tags]


def decode_tags(ids: Iterable[int]) -> list[str]:
    return [BIO_TAGS[index] for index in ids]
