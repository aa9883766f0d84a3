"""`predict`: label posts of the workspace (or of a file) with a saved run; JSONL out, suggestions stored.

Posts of the workspace are read by status (`ready`, `gold`, or `all` = ready, annotating, annotated and
gold), tokenised the way their source was (characters, or words for Twitter-style posts), with their kept
images. Gold posts are predicted split by split in the export's order, so the batches are the ones the
run was evaluated with and the test split of the export the run was trained on gets exactly the run's
own test score. Every prediction of a workspace post goes into the store (`run_predictions`: the text
and the post's mean margin; `run_suggestions`: the spans with their confidence), replacing that run's
earlier predictions of the same posts; `annotate push --suggest RUN` and `--order uncertainty RUN` read
them there.

A file of posts is a CMNER / Twitter-2015 release file (`WID:` / `IMGID:` headers; images in an
`images/` folder beside it) or JSONL (one object per line with `post_id` (or `id`) and `text`, or
`tokens`; optional `images`, file names in that `images/` folder). Its predictions go to the JSONL
output; those of posts that are in the workspace with the same text are stored too.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cmner_build.errors import CmnerError, FormatError
from cmner_build.formats import json_object_line
from cmner_build.model import spans_to_bio, tokenize
from cmner_build.safety import atomic_write_text, check_post_id, regular_file
from cmner_build.store import Store, utc_now

POST_CHOICES = ("ready", "gold", "all")
STATUSES = {"ready": ("ready",), "gold": ("gold",), "all": ("ready", "annotating", "annotated", "gold")}


@dataclass
class PostToLabel:
    post_id: str
    text: str
    tokens: list[str]
    image_files: list[str] = field(default_factory=list)
    split: str | None = None
    gold_tags: list[str] | None = None  # gold posts only
    in_store: bool = True


@dataclass
class PredictReport:
    run_id: str
    posts: int
    spans: int
    stored: int  # posts whose predictions went into the store
    out: Path | None
    scores: dict[str, dict] = field(default_factory=dict)  # split -> score() of gold posts of that split
    run_metrics: dict = field(default_factory=dict)  # the run's own metrics.json, to compare with
    least_sure: list[tuple[str, float]] = field(default_factory=list)  # (post id, margin), lowest first


def workspace_posts(store: Store, which: str) -> list[PostToLabel]:
    """The posts to label, gold ones grouped by split (train, dev, test, none) in the order they entered."""
    if which not in POST_CHOICES:
        raise CmnerError(f"--posts must be one of {', '.join(POST_CHOICES)}, not {which!r}")
    statuses = STATUSES[which]
    images: dict[str, list[str]] = {}
    for row in store.query("SELECT post_id, file_name FROM images WHERE status = 'kept' AND file_name IS NOT NULL "
                           "ORDER BY post_id, position"):
        images.setdefault(row["post_id"], []).append(row["file_name"])
    gold_spans = store.gold_spans() if "gold" in statuses else {}
    marks = ",".join("?" * len(statuses))
    rows = store.query(f"SELECT post_id, text, tokenization, status, split FROM posts WHERE status IN ({marks}) "
                       "ORDER BY rowid", list(statuses))
    posts = []
    for row in rows:
        tokens = tokenize(row["text"], row["tokenization"])
        gold = None
        if row["status"] == "gold":
            try:
                gold = spans_to_bio(tokens, gold_spans.get(row["post_id"], []))
            except ValueError as error:
                raise CmnerError(f"post {row['post_id']}: gold spans do not fit its text: {error}") from None
        posts.append(PostToLabel(row["post_id"], row["text"], [t.text for t in tokens], images.get(row["post_id"], []),
                                 row["split"] if row["status"] == "gold" else None, gold))
    order = {"train": 0, "dev": 1, "test": 2}
    return sorted(posts, key=lambda post: order.get(post.split or "", 3))  # stable: entry order within a split


def posts_from_file(path: Path, store: Store | None = None) -> list[PostToLabel]:
    """Posts of a release file or a JSONL file (see the module docstring)."""
    from cmner_build.baselines.data import detect_format
    from cmner_build.formats import read_tagged_file
    from cmner_build.importer import index_images

    path = regular_file(Path(path))
    images_dir = path.parent / "images"
    by_post = {post_id: sorted(p.name for p in paths)
               for post_id, paths in (index_images(images_dir).items() if images_dir.is_dir() else ())}
    on_disk = {name for names in by_post.values() for name in names}
    posts: list[PostToLabel] = []
    first = next((line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()), "")
    if first.lstrip().startswith("{"):
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            record = json_object_line(line, path, number)
            post_id = check_post_id(record.get("post_id", record.get("id")), where=f"{path}:{number}: post_id")
            text, tokens = record.get("text"), record.get("tokens")
            if isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens):
                text = text if isinstance(text, str) else ("" if all(len(t) == 1 for t in tokens) else " ").join(tokens)
            elif isinstance(text, str):
                tokens = [token.text for token in tokenize(text, "char")]
            else:
                raise FormatError("each line needs `text` (a string) or `tokens` (a list of strings)", path, number)
            names = record.get("images", by_post.get(post_id, []))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise FormatError("`images` must be a list of file names", path, number)
            missing = [name for name in names if name not in on_disk]
            if missing:
                raise FormatError(f"image {missing[0]!r} is not in {images_dir}", path, number)
            posts.append(PostToLabel(post_id, text, list(tokens), sorted(names), in_store=False))
    else:
        fmt = detect_format(path)
        result = read_tagged_file(path, fmt)
        joiner = "" if fmt == "cmner" else " "
        for document in result.documents:
            post_id = check_post_id(document.doc_id, where=f"{path}: post id")
            posts.append(PostToLabel(post_id, joiner.join(document.tokens), list(document.tokens),
                                     by_post.get(post_id, []), gold_tags=list(document.tags), in_store=False))
    if not posts:
        raise FormatError("no posts", path)
    if store is not None:
        stored = {row["post_id"]: row["text"] for row in store.query("SELECT post_id, text FROM posts")}
        for post in posts:
            post.in_store = stored.get(post.post_id) == post.text
    return posts


def store_predictions(store: Store, run_id: str, predictions: Sequence) -> int:
    """Replace the run's predictions of these posts in the store (one transaction). Returns the count."""
    now = utc_now()
    with store.transaction():
        for prediction in predictions:
            store.execute("DELETE FROM run_predictions WHERE run_id = ? AND post_id = ?", (run_id, prediction.post_id))
            store.execute("INSERT INTO run_predictions (run_id, post_id, text, margin, predicted_at) VALUES (?, ?, ?, ?, ?)",
                          (run_id, prediction.post_id, prediction.text, float(prediction.margin), now))
            store.connection.executemany(
                "INSERT INTO run_suggestions (run_id, post_id, start, end, label, confidence) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, prediction.post_id, span.start, span.end, span.label, float(span.confidence))
                 for span in prediction.spans])
        store.log_event("baseline", "predict", f"run {run_id}: {len(predictions)} posts predicted", run_id=run_id,
                        posts=len(predictions))
    return len(predictions)


def predict_run(store: Store, run_dir: Path, *, posts: str = "ready", from_file: Path | None = None,
                out: Path | None = None, device: str = "auto", threads: int | None = None,
                features_root: Path | None = None,
                progress: Callable[[str, int], object] | None = None) -> PredictReport:
    """`predict`: load the run, label the posts, write the JSONL, store the suggestions, score gold."""
    from cmner_build.baselines.evaluate import score
    from cmner_build.baselines.inference import load_run, predict_posts

    chosen = posts_from_file(from_file, store) if from_file is not None else workspace_posts(store, posts)
    if not chosen:
        raise CmnerError(f"no post in status {' / '.join(STATUSES[posts])} to predict")
    loaded = load_run(run_dir, device=device, threads=threads, features_root=features_root)
    groups: dict[str | None, list[PostToLabel]] = {}
    for post in chosen:
        groups.setdefault(post.split, []).append(post)
    chosen = [post for group in groups.values() for post in group]
    predictions = []
    report = PredictReport(loaded.run_id, len(chosen), 0, 0, out, run_metrics=loaded.metrics)
    with (progress(f"predicting with {loaded.run_id}", len(chosen)) if progress is not None
          else contextlib.nullcontext(None)) as advance:
        for split, group in groups.items():  # one split at a time: the run's own evaluation batches
            predicted = predict_posts(loaded, group, progress=advance)
            predictions += predicted
            if split is not None and all(post.gold_tags is not None for post in group):
                report.scores[split] = score([post.gold_tags for post in group], [p.tags for p in predicted])
    report.spans = sum(len(p.spans) for p in predictions)
    if from_file is not None and any(post.gold_tags is not None for post in chosen):
        report.scores["file"] = score([post.gold_tags for post in chosen], [p.tags for p in predictions])
    if out is not None:
        lines = [json.dumps({"run_id": loaded.run_id, **prediction.to_dict()}, ensure_ascii=False)
                 for prediction in predictions]
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, "".join(line + "\n" for line in lines), newline="\n")
    storable = [prediction for prediction, post in zip(predictions, chosen) if post.in_store]
    report.stored = store_predictions(store, loaded.run_id, storable) if storable else 0
    report.least_sure = sorted(((p.post_id, round(p.margin, 4)) for p in predictions), key=lambda item: item[1])[:10]
    return report
