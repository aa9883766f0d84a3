"""The SPAN placeholder method: translate a labelled post and keep its labels exact, without alignment.

1. `mask_post`: every entity span of the source post is replaced by the placeholder `SPAN`; the entity
   strings are kept aside, each with its label.
2. The masked sentence and each entity string are translated separately (by any translator).
3. `unmask`: the i-th placeholder of the translated sentence is replaced by the translation of the i-th
   entity, and that entity's label is put on its translated words: per character for Chinese output
   (the CMNER layout), per token for English output (the Twitter-2015 layout).

The placeholders are identical, so they are matched in order. A translator that swaps two placeholders
cannot be detected, but no label is wrong because of it: each entity's words carry their own label
wherever they land. What can be detected is rejected with a reason, never repaired by guessing:
a placeholder lost or duplicated (the count differs), a placeholder glued to other letters ("SPANs"),
an empty sentence or entity translation, a source that already contains the placeholder text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from cmner_build.baselines.settings import PLACEHOLDER

LANGUAGES = ("zh", "en")
_ASCII_ALNUM = "A-Za-z0-9"
# An English output token: a URL, a word (with inner hyphens/apostrophes, an optional @ or #), a clitic
# like 's, or one punctuation mark. Twitter-2015 tokens look like that.
_ENGLISH_TOKEN = re.compile(r"https?://\S+|[@#]?\w+(?:[-'’]\w+)*|['’]\w+|[^\w\s]")
# Sentence-final punctuation a translator tends to add to a lone entity string ("Beijing.").
_TRAILING_PUNCTUATION = "。．.!！?？"


class Rejected(Exception):
    """A post whose placeholders or translations cannot be mapped back: a reason kind (counted in the
    report) and the post's details."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class Entity:
    label: str
    text: str  # the source entity as a string of the source language


@dataclass
class MaskedPost:
    post_id: str
    sentence: str  # the source sentence with each entity replaced by the placeholder
    entities: list[Entity] = field(default_factory=list)


def placeholder_pattern(placeholder: str = PLACEHOLDER) -> re.Pattern[str]:
    """The placeholder as a unit: not preceded or followed by an ASCII letter or digit."""
    return re.compile(rf"(?<![{_ASCII_ALNUM}]){re.escape(placeholder)}(?![{_ASCII_ALNUM}])")


def chunk_entities(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, label) of each BIO entity, end exclusive; an I- of another type starts a new one."""
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, tag_label = tag.partition("-")
        continues = prefix == "I" and tag_label == label
        if start is not None and not continues:
            spans.append((start, position, label))  # type: ignore[arg-type]
            start, label = None, None
        if prefix in ("B", "I") and not continues:
            start, label = position, tag_label
    return spans


def join_tokens(tokens: Sequence[str], language: str) -> str:
    """Source text as the translator sees it: Chinese characters joined directly, English words by spaces."""
    if language == "zh":
        return "".join(tokens)
    return " ".join(tokens)


def mask_post(post_id: str, tokens: Sequence[str], tags: Sequence[str], language: str,
              placeholder: str = PLACEHOLDER) -> MaskedPost:
    """The post's sentence with placeholders, and its entities in order. Raises Rejected when the source
    text already contains the placeholder (the output would be ambiguous)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    if placeholder in join_tokens(tokens, language):
        raise Rejected("the source already contains the placeholder", placeholder)
    pieces: list[str] = []
    entities: list[Entity] = []
    position = 0
    for start, end, label in chunk_entities(tags):
        pieces.append(join_tokens(tokens[position:start], language))
        pieces.append(placeholder)
        entities.append(Entity(label, join_tokens(tokens[start:end], language)))
        position = end
    pieces.append(join_tokens(tokens[position:], language))
    return MaskedPost(post_id, _join_pieces(pieces, language), entities)


def _join_pieces(pieces: list[str], language: str) -> str:
    if language == "en":
        return " ".join(piece for piece in pieces if piece)
    # Chinese: no spaces, except to keep the placeholder apart from ASCII letters and digits around it.
    text = ""
    for piece in pieces:
        if piece and text and re.match(rf"[{_ASCII_ALNUM}]", piece[0]) and re.search(rf"[{_ASCII_ALNUM}]$", text):
            text += " "
        text += piece
    return text


def target_tokens(text: str, language: str) -> list[str]:
    """Translated text in the target corpus's units: characters without white space (CMNER has no space
    tokens) for Chinese, words and punctuation marks for English."""
    if language == "zh":
        return [char for char in text if not char.isspace()]
    return _ENGLISH_TOKEN.findall(text)


def clean_entity_translation(source: str, translation: str) -> str:
    """A lone entity's translation without the sentence-final mark translators add ("Beijing."), unless the
    source entity itself ended with one."""
    cleaned = translation.strip()
    if source and source[-1] not in _TRAILING_PUNCTUATION:
        cleaned = cleaned.rstrip(_TRAILING_PUNCTUATION).strip()
    return cleaned


def unmask(masked: MaskedPost, sentence_translation: str, entity_translations: Sequence[str], language: str,
           placeholder: str = PLACEHOLDER) -> tuple[list[str], list[str]]:
    """Tokens and BIO tags of the translated post in the target `language`, or Rejected with the reason."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    if len(entity_translations) != len(masked.entities):
        raise ValueError("one translation per entity is needed")
    if not sentence_translation.strip():
        raise Rejected("empty sentence translation")
    pattern = placeholder_pattern(placeholder)
    found = len(pattern.findall(sentence_translation))
    anywhere = sentence_translation.count(placeholder)
    expected = len(masked.entities)
    if anywhere > found:
        raise Rejected("placeholder glued to other letters", repr(sentence_translation))
    if found < expected:
        raise Rejected("placeholder lost", f"{found} of {expected} survived")
    if found > expected:
        raise Rejected("placeholder duplicated", f"{found} for {expected} entities")
    tokens: list[str] = []
    tags: list[str] = []
    pieces = pattern.split(sentence_translation)
    for index, piece in enumerate(pieces):
        outside = target_tokens(piece, language)
        tokens.extend(outside)
        tags.extend("O" for _ in outside)
        if index == len(pieces) - 1:
            break
        entity = masked.entities[index]
        words = target_tokens(clean_entity_translation(entity.text, entity_translations[index]), language)
        if not words:
            raise Rejected("empty entity translation", f"{entity.text!r} ({entity.label})")
        tokens.extend(words)
        tags.extend([f"B-{entity.label}"] + [f"I-{entity.label}"] * (len(words) - 1))
    if not tokens:
        raise Rejected("empty sentence translation")
    return tokens, tags
