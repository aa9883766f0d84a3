"""Generate the bundled demo annotations: Doccano per-user export zips of three annotators' work on the
demo sample, with planted disagreements, plus a manifest of what was planted.

    python scripts/make_demo_annotations.py

Writes cmner_build/sample/annotations/:
  pilot.zip        the pilot: 20 posts (the sample `annotate push --pilot 20` draws with seed 42),
                   high agreement (mean pairwise strict span F1 well above 0.90)
  batch-0001.zip   the main batch: the other 40 posts, with boundary, type, presence and mixed
                   conflicts, a three-way split, a wrong majority, and one post all three left empty
  manifest.json    per post: round, planted conflicts, gold spans, each annotator's spans (code points),
                   and the pairwise strict F1 of each round, for the agreement/adjudication tests

Each annotator's spans are derived from the sample's gold tags. The zips look exactly like Doccano
1.8.4's "Export only approved documents" JSONL export (UTF-16 offsets, post id in meta, an empty
admin.jsonl), so the demo pulls them with `annotate pull --from-export`. Deterministic: re-running
rewrites identical bytes.
"""

from __future__ import annotations

import json
import sys
import zipfile
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cmner_build.annotate.batching import pilot_sample  # noqa: E402
from cmner_build.annotate.doccano.offsets import spans_to_doccano  # noqa: E402
from cmner_build.formats import read_tagged_file  # noqa: E402
from cmner_build.model import LABELS, Span, bio_to_spans, char_tokens  # noqa: E402

SAMPLE = ROOT / "cmner_build" / "sample"
OUT = SAMPLE / "annotations"
ANNOTATORS = ("ann_a", "ann_b", "ann_c")
PILOT_SIZE = 20
SEED = 42  # the default [corpus] seed: `annotate push --pilot 20` on the demo draws these posts
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def gold_posts() -> dict[str, tuple[str, list[Span]]]:
    result = read_tagged_file(SAMPLE / "sample.txt", "cmner")
    posts = {}
    for document in result.documents:
        text = "".join(document.tokens)
        posts[document.doc_id] = (text, bio_to_spans(char_tokens(text), document.tags))
    return posts


# -- ways to disagree with the gold ---------------------------------------------------------------


def shift_boundary(text: str, spans: list[Span], index: int) -> list[Span]:
    """The span one character longer at the end when that stays clear of others, else one shorter."""
    span = spans[index]
    taken = {i for other in spans if other != span for i in range(other.start, other.end)}
    if span.end < len(text) and span.end not in taken:
        changed = Span(span.start, span.end + 1, span.label)
    elif span.end - span.start > 1:
        changed = Span(span.start, span.end - 1, span.label)
    else:
        changed = Span(span.start - 1, span.end, span.label)
    return sorted(spans[:index] + [changed] + spans[index + 1 :])


def change_type(spans: list[Span], index: int, step: int = 1) -> list[Span]:
    span = spans[index]
    label = LABELS[(LABELS.index(span.label) + step) % len(LABELS)]
    return sorted(spans[:index] + [Span(span.start, span.end, label)] + spans[index + 1 :])


def drop(spans: list[Span], index: int) -> list[Span]:
    return spans[:index] + spans[index + 1 :]


def add_spurious(text: str, spans: list[Span]) -> list[Span]:
    """A MISC span over the first two characters that belong to no entity (and are not punctuation)."""
    taken = {i for span in spans for i in range(span.start, span.end)}
    for start in range(len(text) - 1):
        if not {start, start + 1} & taken and all(ch.isalnum() for ch in text[start : start + 2]):
            return sorted(spans + [Span(start, start + 2, "MISC")])
    raise ValueError("no room for a spurious span")


def plan(posts: dict[str, tuple[str, list[Span]]]) -> dict[str, dict]:
    """Every post's round, planted conflicts and the three annotators' spans."""
    pilot = pilot_sample(list(posts), PILOT_SIZE, SEED)
    main = [post_id for post_id in sorted(posts) if post_id not in pilot]
    plans: dict[str, dict] = {}

    def record(post_id: str, round_: str, conflicts: list[str], **changes: list[Span]) -> None:
        text, gold = posts[post_id]
        work = {name: changes.get(name, list(gold)) for name in ANNOTATORS}
        plans[post_id] = {"round": round_, "batch_id": "pilot" if round_ == "pilot" else "batch-0001",
                          "conflicts": conflicts, "text": text, "gold": gold, "annotators": work}

    # Pilot: a trained team, four small slips over twenty posts.
    pilot_slips = {
        3: ("boundary", "ann_b", lambda text, gold: shift_boundary(text, gold, 0)),
        8: ("presence", "ann_c", lambda text, gold: drop(gold, len(gold) - 1)),
        12: ("type", "ann_a", lambda text, gold: change_type(gold, 0)),
        17: ("presence", "ann_b", lambda text, gold: add_spurious(text, gold)),
    }
    for index, post_id in enumerate(pilot):
        text, gold = posts[post_id]
        if index in pilot_slips:
            kind, who, how = pilot_slips[index]
            record(post_id, "pilot", [kind], **{who: how(text, gold)})
        else:
            record(post_id, "pilot", [])

    # Main batch: every kind of conflict the adjudicator meets.
    for index, post_id in enumerate(main):
        text, gold = posts[post_id]
        if index < 4:  # one annotator's boundary differs: the other two (= gold) are a majority
            record(post_id, "main", ["boundary"], **{ANNOTATORS[index % 3]: shift_boundary(text, gold, index % len(gold))})
        elif index < 8:  # one annotator's type differs
            record(post_id, "main", ["type"], **{ANNOTATORS[index % 3]: change_type(gold, index % len(gold))})
        elif index < 10:  # one annotator misses an entity
            record(post_id, "main", ["presence"], **{ANNOTATORS[index % 3]: drop(gold, 0)})
        elif index < 12:  # one annotator marks something that is no entity
            record(post_id, "main", ["presence"], **{ANNOTATORS[index % 3]: add_spurious(text, gold)})
        elif index < 14:  # mixed: boundary (ann_a), type (ann_b) and a miss (ann_c) on one post
            record(post_id, "main", ["boundary", "type", "presence"], ann_a=shift_boundary(text, gold, 0),
                   ann_b=change_type(gold, len(gold) - 1), ann_c=drop(gold, len(gold) // 2))
        elif index == 14:  # three-way type split on the first entity: no majority, needs a decision
            record(post_id, "main", ["type", "three_way"], ann_b=change_type(gold, 0, 1), ann_c=change_type(gold, 0, 2))
        elif index == 15:  # two annotators agree on the wrong type: the majority is not the gold
            record(post_id, "main", ["type", "wrong_majority"], ann_b=change_type(gold, 0), ann_c=change_type(gold, 0))
        elif index == 16:  # all three confirmed it with nothing marked: adjudication drops it
            record(post_id, "main", ["all_empty"], ann_a=[], ann_b=[], ann_c=[])
        else:
            record(post_id, "main", [])
    return plans


# -- agreement, for the manifest ------------------------------------------------------------------


def pairwise_strict_f1(plans: dict[str, dict], round_: str) -> dict[str, float]:
    """Micro strict span F1 for each pair of annotators over the round's posts (exact start, end, label)."""
    scores = {}
    for first, second in combinations(ANNOTATORS, 2):
        both = only_first = only_second = 0
        for entry in plans.values():
            if entry["round"] != round_:
                continue
            a, b = set(entry["annotators"][first]), set(entry["annotators"][second])
            both += len(a & b)
            only_first += len(a - b)
            only_second += len(b - a)
        scores[f"{first}-{second}"] = round(2 * both / (2 * both + only_first + only_second), 4)
    return scores


# -- writing --------------------------------------------------------------------------------------


def export_zip(path: Path, plans: dict[str, dict], round_: str, first_example_id: int) -> None:
    """A zip shaped like Doccano's JSONL export: <username>.jsonl per member, admin.jsonl empty."""
    post_ids = sorted(post_id for post_id, entry in plans.items() if entry["round"] == round_)
    files = {"admin.jsonl": ""}
    for name in ANNOTATORS:
        lines = []
        for offset, post_id in enumerate(post_ids):
            entry = plans[post_id]
            line = {"id": first_example_id + offset, "text": entry["text"], "post_id": post_id,
                    "batch_id": entry["batch_id"], "label": spans_to_doccano(entry["text"], entry["annotators"][name]),
                    "Comments": []}
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        files[f"{name}.jsonl"] = "\n".join(lines) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode("utf-8"))


def spans_json(spans: list[Span]) -> list[list]:
    return [[span.start, span.end, span.label] for span in sorted(spans)]


def compact_json(manifest: dict) -> str:
    """Indented at the top, one line per post: small enough to read and to diff."""
    posts = manifest["posts"]
    head = json.dumps({key: value for key, value in manifest.items() if key != "posts"}, ensure_ascii=False, indent=1)
    lines = [f"  {json.dumps(post_id)}: {json.dumps(entry, ensure_ascii=False)}" for post_id, entry in posts.items()]
    return head[:-2] + ',\n "posts": {\n' + ",\n".join(lines) + "\n }\n}\n"


def main() -> None:
    plans = plan(gold_posts())
    OUT.mkdir(parents=True, exist_ok=True)
    export_zip(OUT / "pilot.zip", plans, "pilot", 1)
    export_zip(OUT / "batch-0001.zip", plans, "main", 1 + PILOT_SIZE)
    pilot_f1 = pairwise_strict_f1(plans, "pilot")
    main_f1 = pairwise_strict_f1(plans, "main")
    assert sum(pilot_f1.values()) / 3 >= 0.90, pilot_f1  # the pilot must pass the paper's gate
    manifest = {
        "description": "Planted disagreements of the bundled demo annotations (scripts/make_demo_annotations.py). "
                       "Offsets are code points, end exclusive; the zips hold the same spans in UTF-16.",
        "annotators": list(ANNOTATORS),
        "files": {"pilot": {"zip": "pilot.zip", "batch_id": "pilot", "round": "pilot"},
                  "main": {"zip": "batch-0001.zip", "batch_id": "batch-0001", "round": "main"}},
        "pairwise_strict_f1": {"pilot": pilot_f1, "main": main_f1},
        "mean_pairwise_strict_f1": {"pilot": round(sum(pilot_f1.values()) / 3, 4),
                                    "main": round(sum(main_f1.values()) / 3, 4)},
        "posts": {
            post_id: {"round": entry["round"], "batch_id": entry["batch_id"], "conflicts": entry["conflicts"],
                      "gold": spans_json(entry["gold"]),
                      "annotators": {name: spans_json(spans) for name, spans in entry["annotators"].items()}}
            for post_id, entry in sorted(plans.items())
        },
    }
    (OUT / "manifest.json").write_text(compact_json(manifest), encoding="utf-8")
    print(f"wrote {OUT}: pilot mean F1 {manifest['mean_pairwise_strict_f1']['pilot']}, "
          f"main mean F1 {manifest['mean_pairwise_strict_f1']['main']}")


if __name__ == "__main__":
    main()
