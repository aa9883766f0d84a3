"""Compute the corpus statistics as one plain dict (what `stats --json` prints)."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Sequence

from cmner_build.model import LABELS, count_by_label
from cmner_build.privacy import KINDS, private_data_summary
from cmner_build.splits import SPLITS
from cmner_build.store import IMAGE_STATUSES, POST_STATUSES, Store
from cmner_build.workspace import Workspace

from cmner_build.stats.leaks import leak_audit

LENGTH_BIN = 25


def _distribution(values: list[int]) -> dict:
    if not values:
        return {"mean": 0.0, "median": 0, "min": 0, "max": 0, "distribution": {}}
    counts = Counter(values)
    return {
        "mean": round(statistics.fmean(values), 3),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "distribution": {str(value): counts[value] for value in sorted(counts)},
    }


def _length_summary(lengths: list[int]) -> dict:
    if not lengths:
        return {"mean": 0.0, "median": 0, "p90": 0, "min": 0, "max": 0, "histogram": []}
    ordered = sorted(lengths)
    bins = Counter(length // LENGTH_BIN for length in lengths)
    return {
        "mean": round(statistics.fmean(lengths), 3),
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "min": ordered[0],
        "max": ordered[-1],
        "histogram": [
            {"from": b * LENGTH_BIN, "to": (b + 1) * LENGTH_BIN - 1, "posts": bins[b]} for b in sorted(bins)
        ],
    }


def workspace_stats(workspace: Workspace, plots: bool = True) -> dict:
    """`cmner-build stats`: the statistics of the workspace, and (plots) the PNG plots written to
    <workspace>/exports/, listed under "plots"."""
    from cmner_build.privacy import kinds_from_settings

    result = compute_stats(workspace.store, workspace.settings.near_duplicate_jaccard,
                           kinds_from_settings(workspace.settings))
    if plots:
        from cmner_build.stats.plots import write_plots

        result["plots"] = [str(path) for path in write_plots(result, workspace.exports_dir)]
    return result


def compute_stats(store: Store, near_duplicate_jaccard: float = 0.7, private_kinds: Sequence[str] = KINDS) -> dict:
    posts = store.query("SELECT post_id, text, topic, status, split FROM posts")
    images_kept = Counter(
        row[0] for row in store.execute("SELECT post_id FROM images WHERE status = 'kept'")
    )
    gold = store.gold_spans()

    total_by_status = {status: 0 for status in POST_STATUSES}
    total_by_topic: Counter[str] = Counter()
    for row in posts:
        total_by_status[row["status"]] += 1
        total_by_topic[row["topic"] or "(none)"] += 1
    images_by_status = {status: 0 for status in IMAGE_STATUSES}
    for status, count in store.execute("SELECT status, COUNT(*) FROM images GROUP BY status"):
        images_by_status[status] = count
    drop_reasons = Counter(
        row[0] for row in store.execute("SELECT drop_reason FROM posts WHERE status = 'dropped'")
    )

    split_posts = [row for row in posts if row["status"] == "gold" and row["split"]]
    splits: dict[str, dict] = {}
    for split in SPLITS:
        members = [row for row in split_posts if row["split"] == split]
        entities = count_by_label(span for row in members for span in gold.get(row["post_id"], []))
        splits[split] = {
            "posts": len(members),
            "images": sum(images_kept[row["post_id"]] for row in members),
            "characters": sum(len(row["text"]) for row in members),
            "entities": entities,
            "entities_total": sum(entities.values()),
            "by_topic": dict(sorted(Counter(row["topic"] or "(none)" for row in members).items())),
        }

    gold_posts = [row for row in posts if row["status"] == "gold"]
    all_entities = count_by_label(span for spans in gold.values() for span in spans)
    audit = leak_audit(
        {row["post_id"]: row["text"] for row in split_posts},
        {row["post_id"]: row["split"] for row in split_posts},
        near_duplicate_jaccard,
    )
    return {
        "splits": splits,
        "total": {
            "posts": len(posts),
            "images": sum(images_by_status.values()),
            "by_topic": dict(sorted(total_by_topic.items())),
            "by_status": total_by_status,
            "images_by_status": images_by_status,
            "drop_reasons": dict(sorted(drop_reasons.items())),
            "gold_posts": len(gold_posts),
            "entities": all_entities,
            "entities_total": sum(all_entities.values()),
        },
        "images_per_post": _distribution([images_kept[row["post_id"]] for row in gold_posts]),
        "entities_per_post": _distribution([len(gold.get(row["post_id"], [])) for row in gold_posts]),
        "text_length": _length_summary([len(row["text"]) for row in gold_posts]),
        "leak_audit": audit,
        "private_data": private_data_summary(store, private_kinds),
        "labels": list(LABELS),
    }
