"""Use a saved baseline run: load it once, label posts with tags, spans, confidences and CRF marginals.

The API (stable; `predict` and the gold audit build on it):

    loaded = load_run(run_dir, device="auto", threads=None, features_root=None)   -> LoadedRun
    predictions = predict_posts(loaded, posts, progress=None)                     -> list[PostPrediction]

* `load_run` reads `config.json` (model, image mode, seed, encoder, `model_config`), `vocab.json` (ACN),
  rebuilds the network with `baselines.models.build_model` (the code that trained it) and loads
  `model.safetensors` (the best epoch) onto the device, in eval mode. An image run also opens the image
  feature cache of its encoder, `<features_root>/<encoder slug>` (default: the workspace's `features/`,
  the run folder being `<workspace>/runs/<run id>`). UMT needs its BERT's tokenizer and configuration
  (`config.json` names the hub name or folder); the weights come from the run.
* `posts` are `baselines.data.Post` objects (post_id, tokens, tags, image_files) or anything with those
  attributes; an optional `text` attribute gives the text the tokens come from (default: the tokens joined,
  with nothing between one-character tokens and a space between words). Gold `tags` are not read.
* A `PostPrediction` holds, per post: `tags` (the Viterbi path, valid BIO), `spans` (`PredictedSpan`:
  start / end in code points of `text`, end exclusive, label, the covered text, and `confidence`, the
  lowest marginal probability of the span's own tags over its characters), `marginals` (a (T, 9) float32
  numpy array, p(tag | post) per token, columns in `LABELS` = `cmner_build.model.BIO_TAGS` order, from
  the CRF's forward-backward in fp32) and `margin`, the mean over tokens of the gap between the two most
  probable tags (1: sure of every token; near 0: unsure). Lowest margin first is "least sure first".

Posts are decoded in the batches training used for its dev/test evaluation (sorted by length,
`EVAL_BATCH_SIZE`), so predicting a run's test split gives exactly the tags, and the score, that the run
recorded in `predictions.jsonl` and `metrics.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.model import BIO_TAGS, Token, bio_to_spans

from cmner_build.baselines.data import Post
from cmner_build.baselines.runs import read_json

LABELS: tuple[str, ...] = BIO_TAGS


@dataclass
class LoadedRun:
    run_id: str
    run_dir: Path
    config: dict  # config.json
    metrics: dict  # metrics.json
    model_name: str  # "acn" or "umt"
    images: str  # "none", "one" or "all"
    kit: object  # baselines.models.ModelKit, its model on `device` in eval mode
    device: object  # torch.device
    features: object | None = None  # baselines.features.FeatureCache for image runs
    labels: tuple[str, ...] = LABELS

    @property
    def model(self):
        return self.kit.model


@dataclass
class PredictedSpan:
    start: int  # code points into the post text, end exclusive
    end: int
    label: str
    text: str
    confidence: float  # the lowest marginal of the span's tags

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "label": self.label, "text": self.text,
                "confidence": round(self.confidence, 4)}


@dataclass
class PostPrediction:
    post_id: str
    text: str
    tokens: list[str]
    tags: list[str]
    spans: list[PredictedSpan]
    marginals: object  # numpy (T, len(LABELS)) float32
    margin: float  # mean top-1 minus top-2 marginal over the tokens (1.0 for an empty post)
    images: list[str] = field(default_factory=list)  # image files that went into the prediction

    def to_dict(self, *, marginals: bool = False) -> dict:
        """A JSON-ready record (marginals rounded to 4 places, only when asked for: they are large)."""
        record = {"post_id": self.post_id, "text": self.text, "margin": round(self.margin, 4),
                  "spans": [span.to_dict() for span in self.spans], "tags": self.tags}
        if marginals:
            record["marginals"] = [[round(float(p), 4) for p in row] for row in self.marginals]
        return record


def load_run(run_dir: Path, *, device: str = "auto", threads: int | None = None,
             features_root: Path | None = None) -> LoadedRun:
    """A finished run folder, ready to predict (see the module docstring)."""
    from safetensors.torch import load_file

    from cmner_build.baselines.device import choose_device
    from cmner_build.baselines.features import FeatureCache, cache_dir_for
    from cmner_build.baselines.models import build_model

    run_dir = Path(run_dir)
    for name in ("config.json", "metrics.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise CmnerError(f"{run_dir} is not a finished run: {name} is missing")
    config = read_json(run_dir / "config.json")
    model_name = config.get("model")
    if model_name not in ("acn", "umt") or not isinstance(config.get("model_config"), dict):
        raise CmnerError(f"{run_dir / 'config.json'}: no model / model_config of an ACN or UMT run")
    vocab = read_json(run_dir / "vocab.json") if model_name == "acn" else None
    kit = build_model(model_name, config["model_config"], vocab, bert_weights=False)
    torch_device = choose_device(device, threads)
    state = load_file(str(run_dir / "model.safetensors"))
    try:
        kit.model.load_state_dict(state)
    except RuntimeError as error:
        raise CmnerError(f"{run_dir / 'model.safetensors'} does not fit the model of config.json: "
                         f"{str(error).splitlines()[0]}") from None
    kit.model.to(torch_device).eval()
    images = config.get("images", "none")
    features = None
    if images != "none":
        root = Path(features_root) if features_root is not None else run_dir.resolve().parent.parent / "features"
        features = FeatureCache(cache_dir_for(root, config["encoder"]))
    return LoadedRun(run_dir.name, run_dir, config, read_json(run_dir / "metrics.json"), model_name, images, kit,
                     torch_device, features)


def predict_posts(loaded: LoadedRun, posts: Sequence, *,
                  progress: Callable[[int], None] | None = None) -> list[PostPrediction]:
    """Label posts with a loaded run (see the module docstring); `progress(n)` after each batch."""
    import numpy as np
    import torch

    from cmner_build.baselines.device import autocast
    from cmner_build.baselines.models import EVAL_BATCH_SIZE
    from cmner_build.baselines.train import bucket_batches

    prepared = [_as_post(post) for post in posts]
    grids = has_image = None
    images_used: list[list[str]] = [[] for _ in prepared]
    if loaded.images != "none":
        from cmner_build.baselines.features import post_grids

        grid_set = post_grids(prepared, loaded.features, loaded.images, int(loaded.config.get("seed", 42)))
        grids, has_image, images_used = grid_set.grids, grid_set.has_image, grid_set.images_used
    results: list[PostPrediction | None] = [None] * len(prepared)
    with_tokens = [i for i, post in enumerate(prepared) if post.tokens]
    for i in set(range(len(prepared))) - set(with_tokens):
        results[i] = _prediction(posts[i], prepared[i], [], np.zeros((0, len(LABELS)), np.float32), images_used[i])
    items = [loaded.kit.encode(prepared[i], i) for i in with_tokens]
    model = loaded.kit.model
    batches = bucket_batches([item["length"] for item in items], EVAL_BATCH_SIZE[loaded.model_name], None)
    with torch.no_grad():
        for batch_indices in batches:
            batch_items = [items[j] for j in batch_indices]
            batch = loaded.kit.collate(batch_items, loaded.device, grids, has_image)
            with autocast(loaded.device):
                emissions = model.emissions(batch)
                if isinstance(emissions, tuple):  # UMT: (unified, auxiliary); the unified ones are decoded
                    emissions = emissions[0]
                paths = model.crf.decode(emissions, batch["mask"])
                marginals = model.crf.marginals(emissions, batch["mask"]).cpu().numpy()
            for row, (item, path) in enumerate(zip(batch_items, paths)):
                index = item["index"]
                results[index] = _prediction(posts[index], prepared[index], [LABELS[t] for t in path],
                                             marginals[row, : len(path)], images_used[index])
            if progress is not None:
                progress(len(batch_items))
    return results  # type: ignore[return-value]


def _as_post(post) -> Post:
    """A Post with O tags (gold is not read; encoders want tags of the right length)."""
    tokens = list(post.tokens)
    return Post(str(post.post_id), tokens, ["O"] * len(tokens), list(getattr(post, "image_files", None) or []))


def text_and_tokens(post) -> tuple[str, list[Token]]:
    """The post's text and each token's code-point offsets in it (found in order, so spaces may vary)."""
    tokens = list(post.tokens)
    text = getattr(post, "text", None)
    if text is None:
        text = ("" if all(len(token) == 1 for token in tokens) else " ").join(tokens)
    located: list[Token] = []
    position = 0
    for index, token in enumerate(tokens):
        start = text.find(token, position)
        if start < 0:
            raise CmnerError(f"post {post.post_id}: token {index} {token!r} is not in its text after offset {position}")
        located.append(Token(token, start, start + len(token)))
        position = start + len(token)
    return text, located


def _prediction(original, post: Post, tags: list[str], marginals, images: list[str]) -> PostPrediction:
    import numpy as np

    text, tokens = text_and_tokens(original)
    start_index = {token.start: i for i, token in enumerate(tokens)}
    end_index = {token.end: i for i, token in enumerate(tokens)}
    tag_ids = [LABELS.index(tag) for tag in tags]
    spans = []
    for span in bio_to_spans(tokens, tags, strict=False):
        first, last = start_index[span.start], end_index[span.end]
        confidence = min(float(marginals[t, tag_ids[t]]) for t in range(first, last + 1))
        spans.append(PredictedSpan(span.start, span.end, span.label, text[span.start : span.end], confidence))
    if len(tags):
        top_two = np.sort(marginals, axis=1)[:, -2:]
        margin = float((top_two[:, 1] - top_two[:, 0]).mean())
    else:
        margin = 1.0
    return PostPrediction(post.post_id, text, post.tokens, tags, spans, marginals, margin, images)
