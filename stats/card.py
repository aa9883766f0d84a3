"""The dataset card: `README.md` with the Hugging Face YAML header, written beside an export.

Everything on the card is read from the store; a section whose stage was never run says "not run".
The YAML header follows the Hub's dataset card metadata (language, license, task_categories, task_ids,
size_categories, pretty_name, dataset_info.features, configs.data_files), so the Hub and
`load_dataset(<folder>)` read the export as one dataset. Text from outside (topics, post ids, strings
of the gold audit) is escaped for Markdown tables and HTML.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cmner_build.config import Settings
from cmner_build.errors import ConfigError
from cmner_build.export import CARD_NAME
from cmner_build.hf_parquet import hf_features
from cmner_build.model import BIO_TAGS, LABELS
from cmner_build.safety import atomic_write_text
from cmner_build.store import Store

from cmner_build.stats.audit.run import latest_audit
from cmner_build.stats.corpus_stats import compute_stats

NOT_RUN = "not run"
CARD_AUDIT_KEYS = ("model", "images", "folds", "epochs", "fold_dev_f1")  # a signal's settings shown (no local paths)


@dataclass(frozen=True)
class CardSettings:
    """`[card]` of cmner.toml (every default written here)."""

    pretty_name: str = "Chinese multimodal NER corpus (Weibo)"
    license: str = "other"  # a Hub licence id; Weibo posts are rarely licensed openly
    language: tuple[str, ...] = ("zh",)


def card_settings(settings: Settings) -> CardSettings:
    defaults = CardSettings()
    language = settings.get("card", "language", list, list(defaults.language))
    if not language or not all(isinstance(code, str) and code for code in language):
        raise ConfigError(f"{settings.path or 'cmner.toml'}: card.language must be a list of language codes")
    return CardSettings(settings.get("card", "pretty_name", str, defaults.pretty_name),
                        settings.get("card", "license", str, defaults.license), tuple(language))


def size_category(count: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if count < bound:
            return name
    return "n>1M"


def _q(value: str) -> str:
    """A YAML scalar: a JSON string is a valid YAML double-quoted string."""
    return json.dumps(value, ensure_ascii=False)


def _md(value: Any) -> str:
    """Outside text inside Markdown (and its HTML): escaped, pipes too, on one line."""
    return html.escape(str(value)).replace("|", "&#124;").replace("\n", " ")


def _table_exists(store: Store, name: str) -> bool:
    return bool(store.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def _yaml_features(images: str) -> list[str]:
    lines = ["  features:"]
    for name, feature in hf_features(images).items():
        lines.append(f"  - name: {name}")
        if feature["_type"] == "Value":
            lines.append(f"    dtype: {feature['dtype']}")
        elif feature["feature"]["_type"] == "ClassLabel":
            lines += ["    sequence:", "      class_label:", "        names:"]
            lines += [f"          '{index}': {tag}" for index, tag in enumerate(feature["feature"]["names"])]
        elif feature["feature"]["_type"] == "Image":
            lines.append("    sequence: image")
        else:
            lines.append(f"    sequence: {feature['feature']['dtype']}")
    return lines


def _header(settings: CardSettings, stats: dict, files: Mapping[str, str], images: str | None) -> str:
    gold = stats["total"]["gold_posts"]
    lines = ["---", "language:"] + [f"- {_q(code)}" for code in settings.language]
    lines += [f"license: {_q(settings.license)}", f"pretty_name: {_q(settings.pretty_name)}",
              "task_categories:", "- token-classification", "task_ids:", "- named-entity-recognition",
              "size_categories:", f"- {size_category(gold)}", "tags:", "- multimodal", "- weibo", "- ner"]
    if images is not None:
        lines.append("dataset_info:")
        lines += _yaml_features(images)
    if files:
        lines += ["configs:", "- config_name: default", "  data_files:"]
        for split, name in files.items():
            lines += [f"  - split: {split}", f"    path: {_q(name)}"]
    return "\n".join(lines + ["---", ""])


def _table_one(stats: dict) -> list[str]:
    lines = ["| split | posts | images | " + " | ".join(LABELS) + " | entities |",
             "|---|" + "---:|" * (len(LABELS) + 3)]
    for split, row in stats["splits"].items():
        lines.append(f"| {split} | {row['posts']:,} | {row['images']:,} | "
                     + " | ".join(f"{row['entities'][label]:,}" for label in LABELS) + f" | {row['entities_total']:,} |")
    return lines


def _topics_and_period(store: Store, stats: dict) -> list[str]:
    lines = ["| topic | " + " | ".join(stats["splits"]) + " |", "|---|" + "---:|" * len(stats["splits"])]
    topics = sorted({topic for row in stats["splits"].values() for topic in row["by_topic"]})
    for topic in topics:
        lines.append(f"| {_md(topic)} | " + " | ".join(str(row["by_topic"].get(topic, 0)) for row in stats["splits"].values()) + " |")
    first, last = store.query("SELECT MIN(posted_at), MAX(posted_at) FROM posts WHERE status = 'gold'")[0]
    crawls = store.scalar("SELECT COUNT(*) FROM events WHERE stage = 'crawl'")
    period = f"{_md(first)} to {_md(last)}" if first else "unknown (no post date stored: the posts were imported)"
    lines += ["", f"Posting period of the gold posts: {period}. Crawl runs recorded: {crawls or NOT_RUN}."]
    return lines


def _cleaning(store: Store, stats: dict) -> list[str]:
    if not _table_exists(store, "clean_rule_hits") or not store.scalar("SELECT COUNT(*) FROM clean_posts"):
        lines = [f"Text cleaning: {NOT_RUN}."]
    else:
        rows = store.query("SELECT rule, COUNT(*) AS posts, SUM(hits) AS hits FROM clean_rule_hits GROUP BY rule ORDER BY rule")
        cleaning = [row for row in rows if not row["rule"].startswith("pii:")]
        privacy = [row for row in rows if row["rule"].startswith("pii:")]
        lines = ["| text rule | posts changed | changes |", "|---|---:|---:|"]
        lines += [f"| {_md(row['rule'])} | {row['posts']:,} | {row['hits']:,} |" for row in cleaning] or ["| (none) | 0 | 0 |"]
        lines += ["", "Privacy: personal data masked before annotation.", "",
                  "| kind | posts | masked |", "|---|---:|---:|"]
        lines += [f"| {_md(row['rule'][4:])} | {row['posts']:,} | {row['hits']:,} |" for row in privacy] or ["| (none found) | 0 | 0 |"]
    drops = stats["total"]["drop_reasons"]
    lines += ["", "Posts dropped, by reason: " + (", ".join(f"{_md(k)} {v:,}" for k, v in drops.items()) or "none") + "."]
    images = stats["total"]["images_by_status"]
    lines.append("Images by status: " + ", ".join(f"{k} {v:,}" for k, v in images.items() if v) + "." if any(images.values())
                 else "Images: none recorded.")
    return lines


def _interval(entry: dict | None) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    ci = entry.get("ci")
    return f"{entry['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _agreement(store: Store) -> list[str]:
    lines = []
    for round_name, title in (("pilot", "Pilot"), ("all", "Full")):
        rows = store.query("SELECT created_at, passed, report FROM agreement_runs WHERE round = ? AND batch_id IS NULL "
                           "ORDER BY run_id DESC LIMIT 1", (round_name,))
        if not rows:
            lines.append(f"- {title} agreement: {NOT_RUN}.")
            continue
        report = json.loads(rows[0]["report"])
        confidence = int(100 * report.get("bootstrap", {}).get("confidence", 0.95))
        alpha = report.get("krippendorff_alpha", {})
        first_alpha = next(iter(alpha.items()), None)
        gate = "" if rows[0]["passed"] is None else f"; pilot gate {'passed' if rows[0]['passed'] else 'FAILED'}"
        lines.append(
            f"- {title} agreement ({rows[0]['created_at']}, {report.get('posts', 0):,} posts, "
            f"{len(report.get('annotators', []))} annotators): strict span F1 {_interval(report.get('strict_f1'))}, "
            f"overlap F1 {_interval(report.get('overlap_f1'))}"
            + (f", Krippendorff's α ({_md(first_alpha[0])}) {_interval(first_alpha[1])}" if first_alpha else "")
            + f" ({confidence} % bootstrap intervals over posts){gate}."
        )
    return lines


def _adjudication(store: Store) -> list[str]:
    if not _table_exists(store, "adjudication_posts") or not store.scalar("SELECT COUNT(*) FROM adjudication_posts"):
        return [f"Adjudication: {NOT_RUN} (the gold was imported, or annotations were not adjudicated)."]
    posts = dict(store.query("SELECT state, COUNT(*) FROM adjudication_posts GROUP BY state"))
    via = store.query("SELECT settled_via, COUNT(*) AS n FROM adjudication_posts WHERE state = 'settled' GROUP BY settled_via")
    clusters = store.query("SELECT conflict_type, COUNT(*) AS n FROM adjudication_clusters GROUP BY conflict_type")
    reasons = store.query("SELECT reason, COUNT(*) AS n FROM adjudication_clusters WHERE reason IS NOT NULL GROUP BY reason")
    return [
        f"Posts merged: {sum(posts.values()):,} (settled {posts.get('settled', 0):,}, open {posts.get('open', 0):,}).",
        "Settled by: " + (", ".join(f"{_md(row['settled_via'])} {row['n']:,}" for row in via) or "none") + ".",
        "Conflict clusters: " + (", ".join(f"{_md(row['conflict_type'])} {row['n']:,}" for row in clusters) or "none") + ".",
        "Decisions by reason: " + (", ".join(f"{_md(row['reason'])} {row['n']:,}" for row in reasons) or "none") + ".",
    ]


def _leaks(stats: dict) -> list[str]:
    audit = stats["leak_audit"]
    return [f"Identical texts in different splits: {audit['identical_groups_across_splits']} groups "
            f"({audit['identical_posts_across_splits']} posts); near-identical pairs across splits "
            f"(character 3-gram Jaccard ≥ {audit['threshold']}): {audit['near_identical_pairs_across_splits']}."]


def _gold_audit(store: Store, top: int = 10) -> list[str]:
    audit = latest_audit(store)
    if audit is None:
        return [f"Gold audit: {NOT_RUN} (`cmner-build audit labels`)."]
    lines = [f"Run {audit['at']} over {audit['posts']:,} gold posts ({audit['entities']:,} entities): "
             f"{audit['combined']:,} likely label issues."]
    for name, entry in audit["signals"].items():
        kinds = ", ".join(f"{_md(kind)} {count:,}" for kind, count in sorted(entry["by_kind"].items()))
        extra = "".join(f", {key} {_md(entry[key])}" for key in CARD_AUDIT_KEYS if key in entry)
        lines.append(f"- {_md(name)}: {entry['issues']:,} issues in {entry['posts']:,} posts ({kinds}{extra}).")
    if audit.get("top"):
        lines += ["", "| # | post | kind | suggested fix | reason |", "|---:|---|---|---|---|"]
        for row in audit["top"][:top]:
            lines.append(f"| {row['rank']} | {_md(row['post_id'])} | {_md(row['kind'])} | {_md(row.get('fix', ''))} | "
                         f"{_md(row['reason'])} |")
    return lines


def render_card(store: Store, settings: CardSettings, *, files: Mapping[str, str] | None = None,
                images: str | None = None, near_duplicate_jaccard: float = 0.7) -> str:
    """The card's text. files: split -> data file name relative to the card; images: the Parquet image mode
    ("embed" or "paths"), None when the export is not Parquet (no dataset_info then)."""
    stats = compute_stats(store, near_duplicate_jaccard)
    files = dict(files or {})
    total = stats["total"]
    sections: list[tuple[str, list[str]]] = [
        ("Table 1: posts, images and entities per split", _table_one(stats)),
        ("Topics and crawl period", _topics_and_period(store, stats)),
        ("Cleaning and privacy", _cleaning(store, stats)),
        ("Inter-annotator agreement", _agreement(store)),
        ("Adjudication", _adjudication(store)),
        ("Split-leak audit", _leaks(stats)),
        ("Gold audit", _gold_audit(store)),
    ]
    body = [
        f"# {_md(settings.pretty_name)}", "",
        f"{total['gold_posts']:,} Weibo posts with their images, labelled character by character in BIO over "
        f"{', '.join(LABELS)} ({total['entities_total']:,} entities). Built with cmner-build.", "",
        "## Fields", "",
        "- `id`: the post id; `tokens`: the characters (or words) of the post text;",
        f"- `ner_tags`: BIO tags as class ids ({', '.join(f'{i} {t}' for i, t in enumerate(BIO_TAGS))});",
        "- `images`: the post's images" + (" (a `datasets` Image feature)" if images == "embed" else
                                            " (paths relative to this folder)") + "; `topic`: the crawl topic.",
    ]
    if files:
        body += ["", "```python", "from datasets import load_dataset",
                 "corpus = load_dataset(\"parquet\", data_files={"
                 + ", ".join(f"{_q(split)}: {_q(name)}" for split, name in files.items()) + "})", "```"]
    for title, lines in sections:
        body += ["", f"## {title}", ""] + lines
    return _header(settings, stats, files, images) + "\n".join(body) + "\n"


def write_card(store: Store, out_dir: Path, settings: CardSettings, *, files: Sequence[Path] = (),
               images: str | None = None, near_duplicate_jaccard: float = 0.7) -> Path:
    """Write out_dir/README.md; files: the export's split files (those ending .parquet become data_files)."""
    # An empty split is left out: `datasets` cannot read a Parquet file without rows.
    posts = dict(store.query("SELECT split, COUNT(*) FROM posts WHERE status = 'gold' GROUP BY split"))
    data_files = {path.stem: path.name for path in files if path.suffix == ".parquet" and posts.get(path.stem)}
    text = render_card(store, settings, files=data_files, images=images if data_files else None,
                       near_duplicate_jaccard=near_duplicate_jaccard)
    path = out_dir / CARD_NAME
    atomic_write_text(path, text)
    return path
