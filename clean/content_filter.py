"""Content filter: posts that contain a term of an unfit-content lexicon are dropped as `unfit:<category>`.

Terms are matched with an Aho-Corasick automaton (pyahocorasick): every overlapping occurrence in
one pass over the text. flashtext is not used: it treats CJK characters as word boundaries and misses
`人民日报` in `人民日报1报道`. Matching is case-insensitive for Latin letters.

Lexicon files are UTF-8 text, one `term<TAB>category` per line (a line with only a term takes the file
name's stem as its category); blank lines and lines starting with `#` are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable

from cmner_build.errors import FormatError

DEFAULT_LEXICON = "unfit_lexicon.tsv"


def default_lexicon_path() -> Path:
    return Path(str(resources.files("cmner_build.clean") / "data" / DEFAULT_LEXICON))


def read_lexicon(path: Path) -> dict[str, str]:
    """{term: category} from one lexicon file; errors name the file and the line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise FormatError(f"cannot read the lexicon: {error.strerror or error}", path) from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"not UTF-8 (byte {error.start})", path, raw[: error.start].count(b"\n") + 1) from None
    terms: dict[str, str] = {}
    for line_number, line in enumerate(content.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term, _, category = line.partition("\t")
        term, category = term.strip(), (category.strip() or Path(path).stem)
        if "\t" in category:
            raise FormatError(f"expected term<TAB>category, found {line!r}", path, line_number)
        if len(term) < 2:
            # One character would drop posts wholesale (and is never unambiguous in Chinese).
            raise FormatError(f"term {term!r} is shorter than 2 characters", path, line_number)
        if not category.replace("_", "").replace("-", "").isalnum():
            raise FormatError(f"category {category!r} must be letters, digits, - or _", path, line_number)
        terms[term.lower()] = category
    return terms


@dataclass
class ContentFilter:
    """An automaton over the merged lexicons; `fingerprint` changes whenever any term or category does."""

    terms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import ahocorasick

        self._automaton = ahocorasick.Automaton()
        for term, category in self.terms.items():
            self._automaton.add_word(term, (term, category))
        if self.terms:
            self._automaton.make_automaton()

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> "ContentFilter":
        merged: dict[str, str] = {}
        for path in paths:
            merged.update(read_lexicon(path))
        return cls(merged)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for term in sorted(self.terms):
            digest.update(f"{term}\t{self.terms[term]}\n".encode("utf-8"))
        return digest.hexdigest()[:16]

    def match(self, text: str) -> dict[str, list[str]]:
        """{category: sorted distinct terms found}; empty when the text is fit."""
        if not self.terms:
            return {}
        found: dict[str, set[str]] = {}
        for _end, (term, category) in self._automaton.iter(text.lower()):
            found.setdefault(category, set()).add(term)
        return {category: sorted(found[category]) for category in sorted(found)}


def drop_category(matches: dict[str, list[str]]) -> str:
    """The category a drop is recorded under: most distinct terms, then alphabetical."""
    return min(matches, key=lambda category: (-len(matches[category]), category))
