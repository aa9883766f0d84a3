"""Agreement benchmark: the full report with bootstrap over 5,000 posts x 3 annotators.

Builds a synthetic, seeded workspace (posts of 20-250 characters, about one entity per 15 characters,
each annotator missing, shifting or relabelling a few), then times the real command as a user runs it,
`cmner-build -w WS agreement --json` (start-up, loading, 1,000 bootstrap replicates, storing the run),
and the library call alone. Target: under 10 s.

    .venv/bin/python benchmarks/bench_agreement.py [--posts 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cmner_build.annotate.agreement.measures import AgreementOptions, compute_agreement  # noqa: E402
from cmner_build.annotate.agreement.data import load_annotated_posts  # noqa: E402
from cmner_build.store import utc_now  # noqa: E402
from cmner_build.workspace import init_workspace  # noqa: E402

CLI = str(Path(sys.executable).parent / "cmner-build")
TARGET_S = 10.0
LABELS = ["PER", "LOC", "ORG", "MISC"]
ANNOTATORS = ["ann1", "ann2", "ann3"]


def gold_spans(rng: random.Random, length: int) -> list[tuple[int, int, str]]:
    spans, position = [], rng.randint(0, 10)
    while position < length - 2:
        width = rng.randint(2, 5)
        if position + width <= length:
            spans.append((position, position + width, rng.choice(LABELS)))
        position += width + rng.randint(3, 25)
    return spans


def annotate(rng: random.Random, gold: list[tuple[int, int, str]], length: int) -> list[tuple[int, int, str]]:
    version = []
    for start, end, label in gold:
        roll = rng.random()
        if roll < 0.03:
            continue  # missed
        if roll < 0.08:
            end = min(length, max(start + 1, end + rng.choice([-1, 1])))  # boundary
        elif roll < 0.11:
            label = rng.choice([x for x in LABELS if x != label])  # type
        version.append((start, end, label))
    return version


def build(root: Path, posts: int, seed: int) -> None:
    rng = random.Random(seed)
    workspace, _ = init_workspace(root)
    store, now = workspace.store, utc_now()
    rows, versions = [], []
    for i in range(posts):
        length = rng.randint(20, 250)
        text = "".join(chr(0x4E00 + rng.randrange(2000)) for _ in range(length))
        rows.append((f"P{i:06d}", text))
        gold = gold_spans(rng, length)
        versions.append({name: annotate(rng, gold, length) for name in ANNOTATORS})
    with store.transaction():
        store.connection.executemany(
            "INSERT INTO posts (post_id, source, original_text, text, status, created_at, updated_at) "
            "VALUES (?, 'crawl', ?, ?, 'annotating', ?, ?)", [(p, t, t, now, now) for p, t in rows])
        store.connection.executemany("INSERT INTO annotators (username, created_at) VALUES (?, ?)",
                                     [(name, now) for name in ANNOTATORS])
        store.create_batch("b1", "main", "b1", annotators=ANNOTATORS, posts=[(p, t, None) for p, t in rows])
        store.connection.executemany(
            "INSERT INTO annotations VALUES ('b1', ?, ?, 1, ?)", [(p, n, now) for p, _ in rows for n in ANNOTATORS])
        store.connection.executemany(
            "INSERT OR IGNORE INTO annotation_spans VALUES ('b1', ?, ?, ?, ?, ?)",
            [(p, n, s, e, label) for (p, _), version in zip(rows, versions) for n in ANNOTATORS
             for s, e, label in version[n]])
    workspace.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ws"
        build(root, args.posts, args.seed)
        start = time.perf_counter()
        result = subprocess.run([CLI, "-w", str(root), "agreement", "--json"], check=True, capture_output=True)
        command_s = time.perf_counter() - start
        report = json.loads(result.stdout)

        from cmner_build.store import Store

        store = Store(root / "corpus.db")
        start = time.perf_counter()
        posts = load_annotated_posts(store, "all").posts
        loaded_s = time.perf_counter() - start
        compute_agreement(posts, AgreementOptions(replicates=1000))
        library_s = time.perf_counter() - start
        store.close()
    print(f"posts: {report['posts']} x {len(report['annotators'])} annotators, {report['characters']} characters, "
          f"bootstrap {report['bootstrap']['replicates']} replicates")
    print(f"strict F1 {report['strict_f1']['value']:.4f} CI {report['strict_f1']['ci']}, "
          f"alpha {report['krippendorff_alpha']['all']['value']:.4f}")
    print(f"`cmner-build agreement --json`: {command_s:.2f} s (target {TARGET_S:.0f} s, ratio {command_s / TARGET_S:.2f})")
    print(f"library only: {library_s:.2f} s (of which loading from corpus.db {loaded_s:.2f} s)")


if __name__ == "__main__":
    main()
