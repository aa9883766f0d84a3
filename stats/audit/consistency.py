"""The consistency signal of the gold audit: cheap, exact, no model.

Three checks over the whole gold corpus, each giving `LabelIssue`s with a reason and a suggested fix:

* **type**: a surface string labelled as a whole with different types; the occurrences with a minority
  type are flagged, the suggestion is the majority type.
* **missed**: a string labelled in some posts is left unlabelled in others, as a whole token run that
  touches no gold span (an occurrence inside a longer entity is not a miss). When it is labelled more
  often than not, each unlabelled occurrence is flagged with the majority type as the suggestion.
* **boundary**: a gold span overlaps, without being equal to, an occurrence of a string the corpus
  labels as one entity. The stretch they cover together is looked up everywhere else in the corpus:
  when the other occurrences are labelled the other way more often than this way, the span is flagged
  with the corpus's version as the suggestion. A span that cuts into a labelled string (or spills over
  one by a character or two) with no such evidence is flagged with a low score.

Scores are shares with add-one smoothing, agree / (agree + disagree + 1), so that ten posts against one
count for more than one against none; boundary cuts without corpus evidence get a quarter of that.
String search uses Aho-Corasick (pyahocorasick) over every labelled surface string, one pass per post.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from cmner_build.label_issues import LabelIssue
from cmner_build.model import Span, tokenize

SIGNAL = "consistency"
WEAK_BOUNDARY_FACTOR = 0.25  # cuts without a labelled occurrence of the same stretch elsewhere
MAX_SPILL = 2  # a span longer than a labelled string by at most this many characters may be a spill
CONVENTION_MIN = 2  # other unlabelled occurrences of a string in one context that make it a convention


class GoldPost(Protocol):
    post_id: str
    text: str
    tokenization: str
    spans: list[Span]


@dataclass(frozen=True)
class _Occurrence:
    post: int  # index into the posts
    start: int
    end: int


def _smoothed(agree: int, disagree: int) -> float:
    return agree / (agree + disagree + 1)


def _majority(labels: Counter[str]) -> tuple[str, int]:
    (label, count), *_ = sorted(labels.items(), key=lambda item: (-item[1], item[0]))
    return label, count


def _touching(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    return [span for span in spans if span.start < end and start < span.end]


class _Corpus:
    """The posts, their token boundaries and gold, and the labelled-string lexicon."""

    def __init__(self, posts: Sequence[GoldPost]) -> None:
        self.posts = list(posts)
        self.exact: list[dict[tuple[int, int], str]] = [{(s.start, s.end): s.label for s in p.spans} for p in self.posts]
        self.starts: list[set[int] | None] = []
        self.ends: list[set[int] | None] = []
        for post in self.posts:
            if post.tokenization == "char":
                self.starts.append(None)  # every position is a token boundary
                self.ends.append(None)
            else:
                tokens = tokenize(post.text, post.tokenization)
                self.starts.append({t.start for t in tokens})
                self.ends.append({t.end for t in tokens})
        self._context_cache: dict[str, list[_Occurrence]] = {}
        self._joined: str | None = None
        self._offsets: list[int] = []
        self.labels: dict[str, Counter[str]] = defaultdict(Counter)  # surface -> label counts as a whole span
        for post in self.posts:
            for span in post.spans:
                self.labels[span.text_of(post.text)][span.label] += 1

    def context_hits(self, window: str) -> list[_Occurrence]:
        """Every occurrence of window in the corpus (plain substring search, cached per window)."""
        if window not in self._context_cache:
            if self._joined is None:  # every text in one string, "\0" between posts: one find per window
                self._joined = "\0".join(post.text for post in self.posts)
                self._offsets, position = [], 0
                for post in self.posts:
                    self._offsets.append(position)
                    position += len(post.text) + 1
            hits = []
            position = self._joined.find(window)
            while position >= 0:
                index = bisect_right(self._offsets, position) - 1
                start = position - self._offsets[index]
                hits.append(_Occurrence(index, start, start + len(window)))
                position = self._joined.find(window, position + 1)
            self._context_cache[window] = hits
        return self._context_cache[window]

    def aligned(self, index: int, start: int, end: int) -> bool:
        starts, ends = self.starts[index], self.ends[index]
        return starts is None or (start in starts and end in ends)

    def find_all(self, needles: Iterable[str]) -> dict[str, list[_Occurrence]]:
        """Every token-aligned occurrence of each needle in every post (one automaton pass per post)."""
        import ahocorasick

        automaton = ahocorasick.Automaton()
        wanted = False
        for needle in set(needles):
            if needle:
                automaton.add_word(needle, needle)
                wanted = True
        found: dict[str, list[_Occurrence]] = defaultdict(list)
        if not wanted:
            return found
        automaton.make_automaton()
        for index, post in enumerate(self.posts):
            for last, needle in automaton.iter(post.text):
                start = last - len(needle) + 1
                if self.aligned(index, start, last + 1):
                    found[needle].append(_Occurrence(index, start, last + 1))
        return found


def consistency_issues(posts: Sequence[GoldPost], *, min_chars: int = 2, min_support: int = 2) -> list[LabelIssue]:
    """Every issue of the three checks, best first."""
    corpus = _Corpus(posts)
    occurrences = corpus.find_all(corpus.labels)
    issues = _type_issues(corpus, min_support) + _missed_issues(corpus, occurrences, min_chars, min_support)
    issues += _boundary_issues(corpus, occurrences, min_support)
    issues.sort(key=lambda issue: (-issue.score, issue.post_id, issue.start))
    return issues


def _type_issues(corpus: _Corpus, min_support: int) -> list[LabelIssue]:
    issues = []
    for index, post in enumerate(corpus.posts):
        for span in post.spans:
            surface = span.text_of(post.text)
            labels = corpus.labels[surface]
            if len(labels) < 2:
                continue
            majority, count = _majority(labels)
            mine = labels[span.label]
            if span.label == majority or count <= mine or count < min_support:
                continue
            issues.append(LabelIssue(
                post.post_id, SIGNAL, "type", span.start, span.end, [span], [Span(span.start, span.end, majority)],
                _smoothed(count, mine),
                f"「{surface}」 is {span.label} here but {majority} in {count} of {sum(labels.values())} places",
                {"labels": dict(labels)},
            ))
    return issues


def _missed_issues(corpus: _Corpus, occurrences: dict[str, list[_Occurrence]], min_chars: int,
                   min_support: int) -> list[LabelIssue]:
    candidates: list[tuple[LabelIssue, _Occurrence]] = []
    for surface, found in occurrences.items():
        if len(surface) < min_chars:
            continue
        labels = corpus.labels[surface]
        labelled = sum(labels.values())
        free = [o for o in found if not _touching(corpus.posts[o.post].spans, o.start, o.end)]
        if labelled < min_support or labelled <= len(free):
            continue
        majority, _ = _majority(labels)
        score = _smoothed(labelled, len(free))
        for occurrence in free:
            post = corpus.posts[occurrence.post]
            candidates.append((LabelIssue(
                post.post_id, SIGNAL, "missed", occurrence.start, occurrence.end, [],
                [Span(occurrence.start, occurrence.end, majority)], score,
                f"「{surface}」 is left unlabelled here but labelled in {labelled} places "
                f"(unlabelled in {len(free)})",
                {"labels": dict(labels), "unlabelled": len(free)},
            ), occurrence))
    candidates = [(issue, o) for issue, o in candidates if not _unlabelled_by_convention(corpus, o)]
    # Overlapping suggestions in one post ("北京" inside "北京大学"): keep the best, then the longest.
    candidates.sort(key=lambda pair: (-pair[0].score, -(pair[0].end - pair[0].start)))
    kept: dict[str, list[LabelIssue]] = defaultdict(list)
    for issue, _ in candidates:
        if not any(issue.start < other.end and other.start < issue.end for other in kept[issue.post_id]):
            kept[issue.post_id].append(issue)
    return [issue for issues in kept.values() for issue in issues]


def _unlabelled_by_convention(corpus: _Corpus, occurrence: _Occurrence) -> bool:
    """True when the string, with the character before or after it here, recurs elsewhere and is never
    labelled there ("北京" in "北京时间"): a convention of the corpus, not a miss."""
    text = corpus.posts[occurrence.post].text
    for lo, hi in ((occurrence.start - 1, occurrence.end), (occurrence.start, occurrence.end + 1)):
        if lo < 0 or hi > len(text):
            continue
        window = text[lo:hi]
        offset = occurrence.start - lo
        labelled = unlabelled = 0
        for hit in corpus.context_hits(window):
            if hit.post == occurrence.post and hit.start == lo:
                continue
            start, end = hit.start + offset, hit.start + offset + (occurrence.end - occurrence.start)
            if _touching(corpus.posts[hit.post].spans, start, end):
                labelled += 1
            else:
                unlabelled += 1
        if unlabelled >= CONVENTION_MIN and labelled == 0:
            return True
    return False


@dataclass(frozen=True)
class _Cut:
    post: int
    span: Span  # the gold span judged
    other: Span  # the labelled string's occurrence it overlaps, with that string's majority type
    window_start: int


def _boundary_issues(corpus: _Corpus, occurrences: dict[str, list[_Occurrence]], min_support: int) -> list[LabelIssue]:
    cuts: list[_Cut] = []
    for surface, found in occurrences.items():
        labels = corpus.labels[surface]
        if sum(labels.values()) < min_support:
            continue
        majority, _ = _majority(labels)
        for occurrence in found:
            post = corpus.posts[occurrence.post]
            for span in _touching(post.spans, occurrence.start, occurrence.end):
                if (span.start, span.end) == (occurrence.start, occurrence.end):
                    continue
                other = Span(occurrence.start, occurrence.end, majority)
                cuts.append(_Cut(occurrence.post, span, other, min(span.start, other.start)))
    windows = {corpus.posts[c.post].text[c.window_start:max(c.span.end, c.other.end)] for c in cuts}
    window_hits = corpus.find_all(windows)
    best: dict[tuple[int, Span], LabelIssue] = {}
    for cut in cuts:
        issue = _judge_cut(corpus, cut, window_hits)
        if issue is None:
            continue
        key = (cut.post, cut.span)
        if key not in best or issue.score > best[key].score:
            best[key] = issue
    return list(best.values())


def _judge_cut(corpus: _Corpus, cut: _Cut, window_hits: dict[str, list[_Occurrence]]) -> LabelIssue | None:
    post = corpus.posts[cut.post]
    span, other = cut.span, cut.other
    window = post.text[cut.window_start:max(span.end, other.end)]
    this_way = other_way = 0
    for hit in window_hits.get(window, []):
        if hit.post == cut.post and hit.start == cut.window_start:
            continue  # the occurrence being judged
        shift = hit.start - cut.window_start
        exact = corpus.exact[hit.post]
        this_way += (span.start + shift, span.end + shift) in exact
        other_way += (other.start + shift, other.end + shift) in exact
    surface, other_surface = span.text_of(post.text), other.text_of(post.text)
    other_labelled = sum(corpus.labels[other_surface].values())
    span_labelled = sum(corpus.labels[surface].values())
    inside = other.start <= span.start and span.end <= other.end  # the span lies inside the labelled string
    spills = span.start <= other.start and other.end <= span.end  # the span contains it
    if other_way > this_way:
        score = _smoothed(other_way, this_way)
        reason = (f"「{window}」 elsewhere has 「{other_surface}」 labelled {other_way} times, "
                  f"「{surface}」 {this_way} times")
    elif this_way == 0 and other_way == 0 and other_labelled > span_labelled:
        if spills and (span.end - span.start) - (other.end - other.start) > MAX_SPILL:
            return None  # a longer name that contains a shorter one ("北京大学" ⊃ "北京") is no cut
        score = WEAK_BOUNDARY_FACTOR * _smoothed(other_labelled, span_labelled)
        how = "lies inside" if inside else "spills over" if spills else "cuts through"
        reason = (f"「{surface}」 {how} 「{other_surface}」, which is labelled {other_labelled} times "
                  f"(「{surface}」 {span_labelled})")
    else:
        return None
    # The suggestion: the corpus's entity instead of this span; gold spans it would overlap give way to it.
    replaced = sorted(set(_touching(post.spans, other.start, other.end)) | {span})
    start, end = min(s.start for s in replaced + [other]), max(s.end for s in replaced + [other])
    kept = [s for s in replaced if s.end <= other.start or s.start >= other.end]
    return LabelIssue(
        post.post_id, SIGNAL, "boundary", start, end, replaced, sorted(kept + [other]), score, reason,
        {"window": window, "this_way": this_way, "other_way": other_way, "labelled": other_labelled},
    )
