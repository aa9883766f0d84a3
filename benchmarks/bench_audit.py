"""Gold audit benchmark: plant label errors into a copy of the shared CMNER train + dev and see how many the
audit finds.

    python benchmarks/bench_audit.py [--share 0.02] [--folds 4] [--epochs 4] [--no-cl] [--workdir DIR]
    python benchmarks/bench_audit.py --clean --top 20 --save top20.jsonl    # the unmodified corpus

About `--share` of the entities get one planted error each, in equal parts: a type flip (another label),
a shifted boundary (start or end moved by one character, staying inside the text and off other spans)
and a deleted entity. The audit runs (consistency and, unless --no-cl, confident learning with k folds
of text-only ACN), and for each signal and for the combined ranking the benchmark prints the share of
planted errors found among the top 2x as many flagged items (an item finds an error when it is in the
same post and its stretch overlaps the error's), and the wall time. Folds are cached under the work
folder's runs/, so a second run with the same options reuses them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "cmner"
LABELS = ("PER", "LOC", "ORG", "MISC")


def plant_errors(store, share: float, seed: int) -> list[dict]:
    """Change the gold of about share x entities in place; returns what was planted."""
    from cmner_build.model import Span

    rng = random.Random(seed)
    gold = store.gold_spans()
    texts = dict(store.query("SELECT post_id, text FROM posts WHERE status = 'gold'"))
    entities = [(post_id, span) for post_id in sorted(gold) for span in gold[post_id]]
    chosen = rng.sample(entities, int(len(entities) * share))
    kinds = ("type", "boundary", "deleted")
    planted, touched_posts = [], set()
    for number, (post_id, span) in enumerate(chosen):
        if post_id in touched_posts:  # one planted error per post keeps the scoring unambiguous
            continue
        kind = kinds[number % 3]
        spans = [s for s in gold[post_id] if s != span]
        if kind == "type":
            new = [Span(span.start, span.end, rng.choice([label for label in LABELS if label != span.label]))]
        elif kind == "deleted":
            new = []
        else:
            options = []
            for start, end in ((span.start - 1, span.end), (span.start + 1, span.end), (span.start, span.end - 1),
                               (span.start, span.end + 1)):
                if 0 <= start < end <= len(texts[post_id]) and not any(s.start < end and start < s.end for s in spans):
                    options.append(Span(start, end, span.label))
            if not options:
                continue
            new = [rng.choice(options)]
        store.replace_gold_spans(post_id, sorted(spans + new), "bench")
        touched_posts.add(post_id)
        stretch = [min([span.start] + [s.start for s in new]), max([span.end] + [s.end for s in new])]
        planted.append({"post_id": post_id, "kind": kind, "original": [span.start, span.end, span.label],
                        "planted": [[s.start, s.end, s.label] for s in new], "stretch": stretch})
    return planted


def found_share(issues, planted: list[dict], budget: int) -> float:
    by_post: dict[str, list[dict]] = {}
    for error in planted:
        by_post.setdefault(error["post_id"], []).append(error)
    found = set()
    for issue in issues[:budget]:
        for error in by_post.get(issue.post_id, []):
            start, end = error["stretch"]
            if issue.start < end and start < issue.end:
                found.add(id(error))
    return len(found) / max(1, len(planted))


def make_workspace(root: Path):
    from cmner_build.importer import import_release
    from cmner_build.workspace import init_workspace

    if root.exists():
        shutil.rmtree(root)
    workspace, _ = init_workspace(root)
    import_release(workspace.store, [SHARED / "train.txt", SHARED / "dev.txt"], "cmner", topics=workspace.settings.topics)
    return workspace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-cl", action="store_true", help="consistency only")
    parser.add_argument("--clean", action="store_true", help="audit the unmodified corpus (no planted errors)")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--save", type=Path, default=None, help="write the top items (JSONL) here")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cmner-bench-audit"))
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return 0

    from cmner_build.baselines.confident import CrossValidationOptions, confident_learning_issues
    from cmner_build.console import progress_task
    from cmner_build.label_issues import combine
    from cmner_build.stats.audit.report import issue_rows
    from cmner_build.stats.audit.run import audit_labels
    from cmner_build.stats.audit.settings import AuditSettings

    name = "clean" if args.clean else f"planted-{args.share}-{args.seed}"
    workdir = args.workdir / name
    runs_dir = args.workdir / "runs"  # shared by reruns: the folds are cached by gold + options
    workspace = make_workspace(workdir)
    planted = [] if args.clean else plant_errors(workspace.store, args.share, args.seed)
    entities = workspace.store.scalar("SELECT COUNT(*) FROM gold_spans")
    if planted:
        kinds = {kind: sum(1 for e in planted if e["kind"] == kind) for kind in ("type", "boundary", "deleted")}
        print(f"planted {len(planted)} errors into {entities:,} entities ({len(planted) / entities:.1%}): {kinds}")

    timings: dict[str, float] = {}
    other = {}
    if not args.no_cl:
        options = CrossValidationOptions(folds=args.folds, epochs=args.epochs, seed=args.seed, device="auto",
                                         threads=args.threads)
        started = time.perf_counter()
        result = confident_learning_issues(workspace.store, runs_dir, workdir / "features", options,
                                           progress=progress_task, log=lambda m: print(m, file=sys.stderr))
        timings["confident_learning"] = time.perf_counter() - started
        other[result.signal] = result.issues
        print(f"confident learning: {len(result.issues)} issues; fold dev F1 {result.info['fold_dev_f1']}; "
              f"folds reused {result.info['folds_reused']}")
    started = time.perf_counter()
    outcome = audit_labels(workspace.store, workdir / "exports" / "audit", AuditSettings(), other_signals=other)
    timings["consistency"] = outcome.seconds.get("consistency", time.perf_counter() - started)
    rankings = dict(outcome.by_signal)
    if len(rankings) > 1:
        rankings["combined"] = combine(list(outcome.by_signal.values()))

    if planted:
        budget = 2 * len(planted)
        print(f"\nshare of the {len(planted)} planted errors among the top {budget} flagged items:")
        print(f"{'signal':<20} {'flagged':>8} {'found':>7}  by kind (type / boundary / deleted)")
        for signal, issues in rankings.items():
            per_kind = [found_share(issues, [e for e in planted if e["kind"] == kind], budget)
                        for kind in ("type", "boundary", "deleted")]
            print(f"{signal:<20} {len(issues):>8} {found_share(issues, planted, budget):>7.1%}  "
                  + " / ".join(f"{share:.0%}" for share in per_kind))
    for signal, seconds in timings.items():
        print(f"wall time {signal}: {seconds:.1f} s")
    if args.save is not None:
        top = rankings.get("combined") or next(iter(rankings.values()))
        rows = issue_rows(top[: args.top], outcome.texts)
        for row in rows:
            text = outcome.texts[row["post_id"]]
            row["context"] = text[max(0, row["start"] - 25): row["end"] + 25]
        args.save.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        print(f"top {len(rows)} written to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
