"""The clean stage's two privacy passes; what counts as private data is decided in `cmner_build.privacy`.

* Crawled posts (`redact_with_rules`): redaction runs on the original text BEFORE the text rules, so no
  rule can disguise private data (the emoticon rule would turn `zhang[at]qq.com` into `zhangqq.com`),
  and once more after them, for data that only takes shape once zero-width characters, HTML entities
  or line breaks are gone. Hits become placeholders (`<PHONE>`): nothing is annotated yet.
* Gold posts (`mask_gold_posts`, `clean --gold`): imported releases and adjudicated posts. Their text
  carries entity spans, so each hit is masked character by character (`*`, spaces kept): the length
  and the token boundaries do not move and the masked characters are tagged O. A hit that overlaps an
  entity span is left alone and reported: a person decides, either declaring the value public for that
  post (`--allow-pii`, e.g. a shop's hotline inside an ORG) or masking it and dropping the entity
  spans it touches (`--drop-entity`). Until then `export` refuses the post.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from cmner_build.errors import CmnerError
from cmner_build.privacy import ALLOWED_KEY, PiiHit, allowed_values, count_kinds, mask_gold_text, mask_same_length, redact
from cmner_build.store import Store, utc_now

from cmner_build.clean.text_rules import TextRule, apply_rules


def redact_with_rules(original_text: str, rules: Sequence[TextRule], kinds: Sequence[str]) -> tuple[str, dict[str, int]]:
    """Redaction, the text rules, redaction again. Returns the text and {rule name or pii:<kind>: changes}."""
    text, before = redact(original_text, kinds)
    text, hits = apply_rules(text, rules)
    text, after = redact(text, kinds)
    for kind in sorted(set(before) | set(after)):
        hits[f"pii:{kind}"] = before.get(kind, 0) + after.get(kind, 0)
    return text, hits


@dataclass
class GoldPrivacyReport:
    dry_run: bool
    posts_checked: int = 0
    posts_masked: list[str] = field(default_factory=list)
    masked: dict[str, int] = field(default_factory=dict)  # kind -> hits masked by this run
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # hits on an entity, left for a person
    allowed: list[dict[str, Any]] = field(default_factory=list)  # hits declared public (now or before)
    entities_dropped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _hit_row(post_id: str, hit: PiiHit, **extra: Any) -> dict[str, Any]:
    return {"post_id": post_id, "kind": hit.kind, "value": hit.value, "start": hit.start, "end": hit.end, **extra}


def mask_gold_posts(
    store: Store,
    kinds: Sequence[str],
    *,
    dry_run: bool = False,
    allow: Sequence[str] = (),
    drop_entities: Sequence[str] = (),
) -> GoldPrivacyReport:
    """Mask private data in gold posts with their spans kept aligned; resolve the named conflicts.

    allow: post ids whose hits on an entity a person declared public (kept, export allowed).
    drop_entities: post ids whose hits on an entity are masked anyway, the entity spans they touch dropped.
    """
    rows = {row["post_id"]: row for row in store.query(
        "SELECT post_id, text, meta FROM posts WHERE status = 'gold' ORDER BY rowid")}
    for option, post_ids in (("--allow-pii", allow), ("--drop-entity", drop_entities)):
        unknown = [post_id for post_id in post_ids if post_id not in rows]
        if unknown:
            raise CmnerError(f"{option}: {', '.join(unknown[:5])}: not a gold post of this corpus")
    both = sorted(set(allow) & set(drop_entities))
    if both:
        raise CmnerError(f"post {both[0]} is given to both --allow-pii and --drop-entity; choose one")
    spans = store.gold_spans()
    report = GoldPrivacyReport(dry_run=dry_run, posts_checked=len(rows))
    updates: list[tuple[str, str, str, str]] = []
    dropped_spans: list[tuple[str, int, int, str]] = []
    for post_id, row in rows.items():
        meta = _meta(row["meta"])
        allowed = allowed_values(meta)
        post_spans = spans.get(post_id, [])
        plan = mask_gold_text(row["text"], post_spans, kinds, allowed)
        masked = list(plan.masked)
        report.allowed.extend(_hit_row(post_id, hit) for hit in plan.allowed)
        for hit, span in plan.conflicts:
            entity = {"entity": span.label, "entity_text": row["text"][span.start : span.end]}
            if post_id in allow:
                allowed.append(hit.value)
                report.allowed.append(_hit_row(post_id, hit, **entity))
            elif post_id in drop_entities:
                masked.append(hit)
                for touched in post_spans:
                    if hit.start < touched.end and touched.start < hit.end:
                        dropped_spans.append((post_id, touched.start, touched.end, touched.label))
                        report.entities_dropped.append(
                            {"post_id": post_id, "label": touched.label, "text": row["text"][touched.start : touched.end]}
                        )
            else:
                report.conflicts.append(_hit_row(post_id, hit, **entity))
        if not masked and allowed == allowed_values(meta):
            continue
        if allowed != allowed_values(meta):
            meta[ALLOWED_KEY] = sorted(set(allowed))
        text = mask_same_length(row["text"], masked)
        if masked:
            report.posts_masked.append(post_id)
            for kind, count in count_kinds(masked).items():
                report.masked[kind] = report.masked.get(kind, 0) + count
        updates.append((text, json.dumps(meta, ensure_ascii=False, sort_keys=True), utc_now(), post_id))

    if not dry_run and updates:
        with store.transaction() as connection:
            connection.executemany("UPDATE posts SET text = ?, meta = ?, updated_at = ? WHERE post_id = ?", updates)
            connection.executemany(
                "DELETE FROM gold_spans WHERE post_id = ? AND start = ? AND end = ? AND label = ?", sorted(set(dropped_spans))
            )
            store.log_event(
                "clean", "gold-privacy",
                f"masked private data in {len(report.posts_masked)} gold posts",
                masked=report.masked, posts=report.posts_masked,
                allowed=sorted({row["post_id"] for row in report.allowed}),
                entities_dropped=len(report.entities_dropped),
            )
    return report


def _meta(raw: str | None) -> dict[str, Any]:
    try:
        meta = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}
