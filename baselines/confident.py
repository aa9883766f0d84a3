"""The confident-learning signal of the gold audit: k-fold cross-validated CRF marginals, ranked by cleanlab.

1. The gold posts are dealt into k folds (seeded). For each fold a baseline (text-only ACN by default)
   is trained on the other folds, with a tenth of them held out to choose the epoch, by the same
   `run_baseline` as `cmner-build baseline`; each fold's run folder lives under
   `runs/audit-cv/<key>/fold-<i>/`, where the key hashes the gold and the options. A fold whose run is
   finished is reused, so the folds are trained once and an interrupted audit resumes.
2. Each fold's run labels the posts it never saw (`baselines.inference.predict_posts`): per-character
   marginals p(tag | post) from the CRF's forward-backward, and the Viterbi path.
3. The marginals are summed into the entity classes (O, PER, LOC, ORG, MISC: B-X + I-X) and
   `cleanlab.token_classification.filter.find_label_issues` picks the characters whose gold label the
   held-out model finds unlikely (confident learning, Northcutt et al. 2021); `rank.get_label_quality_scores`
   gives each character's label quality.
4. Where a flagged character lies in a stretch on which the gold spans and the model's spans differ,
   that stretch becomes a `LabelIssue`: gold there, the model's spans as the suggestion, score = 1 - the
   lowest label quality of its characters.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.export import ExportedPost, load_gold_posts
from cmner_build.formats import format_tagged
from cmner_build.label_issues import LabelIssue
from cmner_build.model import LABELS, Span, tokenize
from cmner_build.safety import atomic_write_bytes, atomic_write_text
from cmner_build.store import Store

from cmner_build.baselines.data import Post

if TYPE_CHECKING:  # train imports torch; the consistency-only audit must not pay for it
    from cmner_build.progress import ProgressFactory

SIGNAL = "confident_learning"
CACHE_FOLDER = "audit-cv"
ENTITY_CLASSES: tuple[str, ...] = ("O",) + LABELS
FORMAT_OF_TOKENIZATION = {"char": "cmner", "whitespace": "twitter2015"}


@dataclass
class CrossValidationOptions:
    folds: int = 4
    epochs: int = 6
    model: str = "acn"
    images: str = "none"
    seed: int = 42
    device: str = "auto"
    dev_share: float = 0.1  # of each fold's training posts, held out to choose the epoch
    # passed on to the baseline (None: its defaults)
    batch_size: int | None = None
    lr: float | None = None
    hidden: int = 200
    embedding_dim: int = 100
    bigrams: bool = False
    encoder: str | None = None
    bert: str | None = None
    threads: int | None = None

    def key_fields(self) -> dict:
        """What the cached folds depend on (not the device or threads)."""
        return {k: v for k, v in asdict(self).items() if k not in ("device", "threads")}


@dataclass
class CrossValidationResult:
    issues: list[LabelIssue]
    info: dict  # folds, epochs, model, per-fold dev F1, folds reused, seconds
    cache_dir: Path
    signal: str = SIGNAL
    predictions: dict = field(default_factory=dict)  # post_id -> inference.PostPrediction


def _log_nothing(message: str) -> None:
    pass


def _cache_key(posts: Sequence[ExportedPost], options: CrossValidationOptions) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(options.key_fields(), sort_keys=True).encode())
    for post in sorted(posts, key=lambda p: p.post_id):
        digest.update(json.dumps([post.post_id, post.text, [[s.start, s.end, s.label] for s in sorted(post.spans)],
                                  sorted(post.image_files)], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def assign_folds(post_ids: Sequence[str], folds: int, seed: int) -> dict[str, int]:
    """post id -> fold, seeded and independent of the order the ids come in."""
    ordered = sorted(post_ids)
    random.Random(f"audit-folds:{seed}").shuffle(ordered)
    return {post_id: index % folds for index, post_id in enumerate(ordered)}


def _to_post(post: ExportedPost) -> Post:
    tokens, tags = post.tokens_and_tags()
    return Post(post.post_id, tokens, tags, list(post.image_files))


def _finished_run(fold_dir: Path) -> Path | None:
    runs = sorted(p for p in (fold_dir / "runs").glob("*") if (p / "metrics.json").is_file()) if fold_dir.is_dir() else []
    return runs[-1] if runs else None


def _write_fold_export(folder: Path, train: Sequence[Post], dev: Sequence[Post], fmt: str,
                       images_dir: Path | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, posts in (("train", train), ("dev", dev)):
        atomic_write_bytes(folder / f"{name}.txt",
                           format_tagged(((p.post_id, p.tokens, p.tags) for p in posts), fmt).encode("utf-8"))
    link = folder / "images"
    if images_dir is not None and images_dir.is_dir() and not link.exists():
        os.symlink(images_dir.resolve(), link, target_is_directory=True)  # the workspace's images, by name


def confident_learning_issues(
    store: Store,
    runs_dir: Path,
    features_root: Path,
    options: CrossValidationOptions,
    *,
    images_dir: Path | None = None,
    progress: "ProgressFactory | None" = None,
    log: Callable[[str], None] = _log_nothing,
) -> CrossValidationResult:
    """Train (or reuse) the k fold models, predict each held-out fold, rank the likely label issues."""
    from cmner_build.baselines.experiment import BaselineOptions, run_baseline
    from cmner_build.baselines.inference import load_run, predict_posts

    if options.folds < 2:
        raise CmnerError("confident learning needs at least 2 folds")
    gold = load_gold_posts(store)
    if len(gold) < options.folds * 2:
        raise CmnerError(f"{len(gold)} gold posts are too few for {options.folds}-fold cross-validation")
    tokenizations = {post.tokenization for post in gold}
    if len(tokenizations) > 1:
        raise CmnerError("the gold mixes character- and word-tokenized posts; audit them in separate workspaces")
    fmt = FORMAT_OF_TOKENIZATION[tokenizations.pop()]
    posts = {post.post_id: _to_post(post) for post in gold}
    texts = {post.post_id: post.text for post in gold}
    fold_of = assign_folds(list(posts), options.folds, options.seed)
    cache_dir = runs_dir / CACHE_FOLDER / _cache_key(gold, options)
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache_dir / "options.json", json.dumps(options.key_fields(), indent=2) + "\n")
    started = time.perf_counter()
    predictions: dict = {}
    fold_info = []
    reused = 0
    for fold in range(options.folds):
        fold_dir = cache_dir / f"fold-{fold}"
        held_out = [posts[i] for i in posts if fold_of[i] == fold]
        training = [posts[i] for i in posts if fold_of[i] != fold]
        run_dir = _finished_run(fold_dir)
        if run_dir is None:
            rng = random.Random(f"audit-dev:{options.seed}:{fold}")
            shuffled = sorted(training, key=lambda p: p.post_id)
            rng.shuffle(shuffled)
            dev_count = max(1, int(len(shuffled) * options.dev_share))
            _write_fold_export(fold_dir / "export", shuffled[dev_count:], shuffled[:dev_count], fmt, images_dir)
            log(f"fold {fold + 1}/{options.folds}: training {options.model} on {len(shuffled) - dev_count} posts "
                f"({dev_count} to choose the epoch), {len(held_out)} held out")
            baseline = BaselineOptions(
                model=options.model, export_dir=fold_dir / "export", images=options.images, epochs=options.epochs,
                seed=options.seed + fold, device=options.device, batch_size=options.batch_size, lr=options.lr,
                hidden=options.hidden, embedding_dim=options.embedding_dim, bigrams=options.bigrams,
                threads=options.threads, **({"encoder": options.encoder} if options.encoder else {}),
                **({"bert": options.bert} if options.bert else {}),
            )
            outcome = run_baseline(baseline, runs_dir=fold_dir / "runs", features_root=features_root, progress=progress,
                                   log=log)
            run_dir = outcome.run_dir
        else:
            reused += 1
            log(f"fold {fold + 1}/{options.folds}: reusing {run_dir}")
        loaded = load_run(run_dir, device=options.device, threads=options.threads, features_root=features_root)
        heldout_inputs = [_Input(p.post_id, p.tokens, p.image_files, texts[p.post_id]) for p in held_out]
        for prediction in predict_posts(loaded, heldout_inputs):
            predictions[prediction.post_id] = prediction
        dev_f1 = loaded.metrics.get("dev", {}).get("f1")
        fold_info.append({"fold": fold, "posts": len(held_out), "dev_f1": dev_f1, "run": str(run_dir)})
    issues = rank_issues(gold, predictions)
    info = {"folds": options.folds, "epochs": options.epochs, "model": options.model, "images": options.images,
            "folds_reused": reused, "fold_dev_f1": [f["dev_f1"] for f in fold_info],
            "seconds": round(time.perf_counter() - started, 1), "cache": str(cache_dir)}
    return CrossValidationResult(issues, info, cache_dir, predictions=predictions)


def workspace_confident_learning(workspace, values: dict, *, progress: "ProgressFactory | None" = None,
                                 log: Callable[[str], None] = _log_nothing) -> CrossValidationResult:
    """The audit's confident-learning signal for a workspace (what `audit labels` passes to the stats entry)."""
    options = CrossValidationOptions(**{key: value for key, value in values.items() if value is not None})
    return confident_learning_issues(workspace.store, workspace.runs_dir, workspace.root / "features", options,
                                     images_dir=workspace.images_dir, progress=progress, log=log)


@dataclass
class _Input:
    """What predict_posts reads: id, tokens, images, and the text the tokens come from."""

    post_id: str
    tokens: list[str]
    image_files: list[str]
    text: str


def entity_probabilities(marginals):
    """(T, 9) BIO marginals -> (T, 5) probabilities of O, PER, LOC, ORG, MISC (B-X + I-X), rows summing to 1."""
    import numpy as np

    from cmner_build.model import BIO_TAGS

    columns = [[BIO_TAGS.index("O")]] + [[BIO_TAGS.index(f"B-{label}"), BIO_TAGS.index(f"I-{label}")] for label in LABELS]
    merged = np.stack([marginals[:, index].sum(axis=1) for index in columns], axis=1).astype(np.float64)
    merged = np.clip(merged, 1e-12, None)
    return merged / merged.sum(axis=1, keepdims=True)


def _entity_labels(post: ExportedPost) -> tuple[list, list[int]]:
    """Tokens (with offsets) and each token's entity class index under the gold."""
    tokens = tokenize(post.text, post.tokenization)
    labels = [0] * len(tokens)
    index_of_start = {token.start: i for i, token in enumerate(tokens)}
    index_of_end = {token.end: i for i, token in enumerate(tokens)}
    for span in post.spans:
        for i in range(index_of_start[span.start], index_of_end[span.end] + 1):
            labels[i] = ENTITY_CLASSES.index(span.label)
    return tokens, labels


def _regions(gold: Sequence[Span], predicted: Sequence[Span]) -> list[tuple[int, int, list[Span], list[Span]]]:
    """Stretches where gold and prediction differ: connected groups of overlapping spans of either side."""
    marked = sorted([(s, "gold") for s in gold] + [(s, "pred") for s in predicted], key=lambda x: (x[0].start, x[0].end))
    groups: list[list[tuple[Span, str]]] = []
    reach = -1
    for span, side in marked:
        if groups and span.start < reach:
            groups[-1].append((span, side))
            reach = max(reach, span.end)
        else:
            groups.append([(span, side)])
            reach = span.end
    regions = []
    for group in groups:
        g = sorted(s for s, side in group if side == "gold")
        p = sorted(s for s, side in group if side == "pred")
        if g != p:
            regions.append((min(s.start for s, _ in group), max(s.end for s, _ in group), g, p))
    return regions


def rank_issues(gold: Sequence[ExportedPost], predictions: dict) -> list[LabelIssue]:
    """Confident learning over the held-out marginals: issues where flagged characters meet a disagreement."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    posts = [post for post in gold if post.post_id in predictions and len(predictions[post.post_id].tags)]
    if not posts:
        return []
    labels, probabilities, token_lists = [], [], []
    for post in posts:
        tokens, entity_labels = _entity_labels(post)
        token_lists.append(tokens)
        labels.append(entity_labels)
        probabilities.append(entity_probabilities(predictions[post.post_id].marginals))
    flagged = find_label_issues(labels, probabilities)
    _, token_scores = get_label_quality_scores(labels, probabilities)
    flagged_by_post: dict[int, set[int]] = {}
    for post_index, token_index in flagged:
        flagged_by_post.setdefault(post_index, set()).add(token_index)
    issues = []
    for post_index, token_indices in flagged_by_post.items():
        post = posts[post_index]
        tokens = token_lists[post_index]
        quality = list(token_scores[post_index])
        predicted = [Span(s.start, s.end, s.label) for s in predictions[post.post_id].spans]
        for start, end, gold_spans, predicted_spans in _regions(post.spans, predicted):
            inside = [i for i, token in enumerate(tokens) if start <= token.start and token.end <= end]
            if not any(i in token_indices for i in inside):
                continue
            worst = min(quality[i] for i in inside)
            issues.append(LabelIssue(
                post.post_id, SIGNAL, "model", start, end, gold_spans, predicted_spans, 1.0 - float(worst),
                f"the held-out model gives the gold label of 「{post.text[start:end]}」 a probability of {worst:.2f}",
                {"label_quality": round(float(worst), 4),
                 "confidence": [round(s.confidence, 4) for s in predictions[post.post_id].spans
                                if start <= s.start and s.end <= end]},
            ))
    issues.sort(key=lambda issue: (-issue.score, issue.post_id, issue.start))
    return issues
