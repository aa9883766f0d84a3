"""One baseline run from start to end: read the export, attach image grids, build ACN or UMT, train,
select on dev, evaluate, write the run folder. The CLI calls `run_baseline`; so can a notebook."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from cmner_build.errors import CmnerError
from cmner_build.model import BIO_TAGS

from cmner_build.baselines.data import Post, load_export
from cmner_build.baselines.features import IMAGE_MODES, FeatureCache, cache_dir_for, post_grids
from cmner_build.baselines.settings import DEFAULT_BERT, DEFAULT_DEVICE, DEFAULT_ENCODER
from cmner_build.baselines.runs import new_run_dir, write_json, write_predictions
from cmner_build.baselines.train import FitResult, Task, Trainer, seed_everything
from cmner_build.progress import ProgressFactory
from cmner_build.baselines.warm_start import (
    acn_axes,
    freeze_bert_layers,
    merge_acn_vocabs,
    transfer_state,
    umt_axes,
)

MODELS = ("acn", "umt")
DEFAULTS = {
    "acn": {"epochs": 24, "batch_size": 16, "lr": 1e-3},
    "umt": {"epochs": 24, "batch_size": 32, "lr": 5e-5},
}


@dataclass
class BaselineOptions:
    model: str
    export_dir: Path
    images: str = "none"
    epochs: int | None = None
    seed: int = 42
    device: str = DEFAULT_DEVICE
    batch_size: int | None = None
    lr: float | None = None
    encoder: str = DEFAULT_ENCODER  # which feature cache to read for --images one/all
    also_train: list[Path] = field(default_factory=list)  # other exports' train splits, added untranslated
    combine: list[Path] = field(default_factory=list)  # other exports whose train and dev splits are added
    init_from: Path | None = None  # a saved run whose weights the model starts from (baselines/warm_start.py)
    regime: dict | None = None  # the cross-lingual stage this run is ({"stage", "pretrain", "direction", ...})
    threads: int | None = None
    # ACN
    embeddings: Path | None = None
    freeze_embeddings: bool = False
    bigrams: bool = False
    attention: str = "additive"
    embedding_dim: int = 100
    hidden: int = 200
    dropout: float | None = None  # ACN: 0.5, or 0.6 with bigrams (9 M more parameters to regularise)
    # UMT
    bert: str | None = None  # None: the --init-from run's BERT, else DEFAULT_BERT
    lowercase: bool = True
    freeze_layers: int = 0  # BERT's embeddings and bottom K layers stay fixed
    gold_posts: int | None = None  # --gold-so-far: gold posts in the workspace when the run was trained

    def resolved(self) -> "BaselineOptions":
        if self.model not in MODELS:
            raise CmnerError(f"unknown model {self.model!r}; choose acn or umt")
        if self.images not in IMAGE_MODES:
            raise CmnerError(f"--images must be one of {', '.join(IMAGE_MODES)}, not {self.images!r}")
        defaults = DEFAULTS[self.model]
        values = asdict(self)
        for key, value in defaults.items():
            if values[key] is None:
                values[key] = value
        if values["dropout"] is None:
            values["dropout"] = 0.6 if values["bigrams"] else 0.5
        if values["epochs"] < 1 or values["batch_size"] < 1:
            raise CmnerError("--epochs and --batch-size must be at least 1")
        if values["freeze_layers"] and self.model != "umt":
            raise CmnerError("--freeze-layers freezes BERT layers: it is a UMT option")
        return BaselineOptions(**values)


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    metrics: dict
    best_epoch: int
    evaluated_split: str
    history: list[dict]
    posts_without_image: int
    notes: list[str]


def _log_nothing(message: str) -> None:
    pass


def run_baseline(
    options: BaselineOptions,
    *,
    runs_dir: Path,
    features_root: Path,
    progress: ProgressFactory | None = None,
    log: Callable[[str], None] = _log_nothing,
) -> RunOutcome:
    import torch

    from cmner_build.baselines.device import choose_device

    options = options.resolved()
    data = load_export(options.export_dir)
    for extra_dir in options.also_train:
        extra = load_export(extra_dir)
        data.splits["train"] = data.splits["train"] + extra.splits["train"]
        log(f"added {len(extra.splits['train'])} training posts from {extra_dir} ({extra.fmt})")
    for extra_dir in options.combine:
        extra = load_export(extra_dir)
        for split in ("train", "dev"):
            data.splits[split] = data.splits[split] + extra.splits[split]
        log(f"added the train and dev splits of {extra_dir} ({extra.fmt})")
    if data.warnings:
        log(f"{len(data.warnings)} repairs while reading the export, e.g. {data.warnings[0]}")
    if not data.has_test:
        log(f"{options.export_dir} has no test split: the scores reported are on dev (used for model selection)")
    device = choose_device(options.device, options.threads)
    seed_everything(options.seed)
    splits = {name: posts for name, posts in data.splits.items() if posts}
    all_posts = [post for name in ("train", "dev", "test") for post in splits.get(name, [])]

    grids = has_image = None
    images_used: list[list[str]] = [[] for _ in all_posts]
    posts_without_image = 0
    if options.images != "none":
        cache = FeatureCache(cache_dir_for(features_root, options.encoder))
        prepared = post_grids(all_posts, cache, options.images, options.seed)
        grids, has_image, images_used = prepared.grids, prepared.has_image, prepared.images_used
        posts_without_image = len(prepared.posts_without_image)
        if posts_without_image:
            log(
                f"{posts_without_image} of {len(all_posts)} posts have no image (e.g. {prepared.posts_without_image[0]}): "
                "they get a zero grid with every region masked"
            )

    init = None
    if options.init_from is not None:
        from cmner_build.baselines.inference import load_run

        init = load_run(Path(options.init_from), device="cpu", threads=options.threads, features_root=features_root)
        if init.model_name != options.model:
            raise CmnerError(f"--init-from {init.run_id} is a {init.model_name.upper()} run, not {options.model.upper()}")
        log(f"starting from the weights of run {init.run_id}")
    if options.model == "umt" and options.bert is None:
        options = replace(options, bert=init.config["model_config"]["bert"] if init is not None else DEFAULT_BERT)
    builder = _build_acn if options.model == "acn" else _build_umt
    task, model_config, extra_files = builder(options, splits, grids, has_image, init)
    trainer = Trainer(task, device, log)
    result = trainer.fit(options.epochs, options.seed, progress)

    run_id, run_dir = new_run_dir(runs_dir, options.model, options.images, options.seed)
    config = {key: (str(value) if isinstance(value, Path) else value) for key, value in asdict(options).items()}
    config["also_train"] = [str(path) for path in options.also_train]
    config["combine"] = [str(path) for path in options.combine]
    config["tags"] = list(BIO_TAGS)
    if init is not None:
        config["init_from_run"] = init.run_id
    config.update({
        "run_id": run_id,
        "export_name": Path(options.export_dir).name,
        "export_format": data.fmt,
        "posts": {name: len(posts) for name, posts in splits.items()},
        "posts_without_image": posts_without_image,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model_config": model_config,
        "micro_batch": result.micro_batch,
    })
    write_json(run_dir / "config.json", config)
    _write_outputs(run_dir, result, splits, all_posts, images_used, extra_files)
    evaluated = "test" if "test" in result.metrics else "dev"
    return RunOutcome(run_id, run_dir, _metrics_of(result), result.best_epoch, evaluated, result.history,
                      posts_without_image, result.notes)


def _metrics_of(result: FitResult) -> dict:
    return {"dev": result.metrics["dev"], "test": result.metrics.get("test")}


def _write_outputs(run_dir: Path, result: FitResult, splits: dict[str, list[Post]], all_posts: list[Post],
                   images_used: list[list[str]], extra_files: dict[str, object]) -> None:
    from safetensors.torch import save_file

    offset = {"train": 0}
    offset["dev"] = len(splits["train"])
    offset["test"] = offset["dev"] + len(splits["dev"])
    rows = []
    for split, predicted in result.predictions.items():
        for i, (post, tags) in enumerate(zip(splits[split], predicted)):
            rows.append({
                "split": split, "post_id": post.post_id, "tokens": post.tokens, "gold": post.tags,
                "predicted": tags, "images": images_used[offset[split] + i],
            })
    write_predictions(run_dir / "predictions.jsonl", rows)
    save_file({name: tensor.contiguous() for name, tensor in result.best_state.items()}, str(run_dir / "model.safetensors"))
    for name, content in extra_files.items():
        write_json(run_dir / name, content)
    write_json(run_dir / "training.json", {"best_epoch": result.best_epoch, "epochs": result.history, "notes": result.notes})
    # metrics.json last: its presence marks the run as finished.
    write_json(run_dir / "metrics.json", _metrics_of(result))


def _index_items(encode, splits: dict[str, list[Post]]) -> dict[str, list[dict]]:
    items: dict[str, list[dict]] = {}
    index = 0
    for name in ("train", "dev", "test"):
        items[name] = []
        for post in splits.get(name, []):
            items[name].append(encode(post, index))
            index += 1
    return items


def _task(kit, items, grids, has_image, make_optimizer, batch_size: int, eval_batch_size: int,
          max_grad_norm: float) -> Task:
    return Task(
        model=kit.model, items=items,
        collate=lambda batch_items, device: kit.collate(batch_items, device, grids, has_image),
        make_optimizer=make_optimizer, batch_size=batch_size, eval_batch_size=eval_batch_size,
        max_grad_norm=max_grad_norm,
    )


def _build_acn(options: BaselineOptions, splits, grids, has_image, init=None):
    import torch

    from cmner_build.baselines.acn import ACNConfig, build_vocabs, load_vectors, pretrained_matrix
    from cmner_build.baselines.models import EVAL_BATCH_SIZE, build_model
    from cmner_build.baselines.vocab import normalize_token

    if options.attention not in ("additive", "concat"):
        raise CmnerError(f"--attention must be additive or concat, not {options.attention!r}")
    vectors: dict[str, list[float]] = {}
    embedding_dim = options.embedding_dim
    extra_tokens: set[str] = set()
    if options.embeddings is not None:
        wanted = {normalize_token(t) for posts in splits.values() for post in posts for t in post.tokens}
        embedding_dim, vectors = load_vectors(options.embeddings, wanted)
        extra_tokens = set(vectors)
    vocabs = build_vocabs(splits["train"], bigrams=options.bigrams, extra_tokens=extra_tokens)
    sizes = {"embedding_dim": embedding_dim, "hidden": options.hidden, "attention": options.attention}
    if init is not None:
        # The saved run fixes the layer sizes; its vocabulary comes first, the new items after it.
        saved = init.config["model_config"]
        if vectors and embedding_dim != saved["embedding_dim"]:
            raise CmnerError(f"--embeddings has {embedding_dim}-d vectors, the --init-from run {saved['embedding_dim']}-d")
        sizes = {key: value for key, value in saved.items() if key in ACNConfig.__dataclass_fields__}
        vocabs = merge_acn_vocabs(init.kit.vocab, vocabs)
    config = ACNConfig(**(sizes | dict(
        vocab_size=len(vocabs.tokens), char_vocab_size=len(vocabs.chars),
        bigram_vocab_size=len(vocabs.bigrams) if vocabs.bigrams is not None else 0,
        feature_dim=int(grids.shape[-1]) if grids is not None else 0,
        freeze_embeddings=options.freeze_embeddings, dropout=options.dropout,
    )))
    pretrained = pretrained_matrix(vocabs.tokens, config.embedding_dim, vectors) if vectors else None
    kit = build_model("acn", config.to_dict(), vocabs.to_dict(), pretrained=pretrained)
    warm = None
    if init is not None:
        warm = transfer_state(init.model.state_dict(), kit.model,
                              acn_axes(init.kit.vocab, kit.vocab, init.config.get("tags", BIO_TAGS), BIO_TAGS))
    items = _index_items(kit.encode, splits)

    def make_optimizer(module, total_steps):
        parameters = [p for p in module.parameters() if p.requires_grad]
        return torch.optim.Adam(parameters, lr=options.lr), None

    task = _task(kit, items, grids, has_image, make_optimizer, options.batch_size, EVAL_BATCH_SIZE["acn"], 5.0)
    model_config = kit.model_config | {"pretrained_vectors": len(vectors)}
    if warm is not None:
        model_config["warm_start"] = warm.to_dict()
    return task, model_config, {"vocab.json": kit.vocab}


def _build_umt(options: BaselineOptions, splits, grids, has_image, init=None):
    from cmner_build.baselines.models import EVAL_BATCH_SIZE, build_model
    from cmner_build.baselines.umt import UMTConfig, make_optimizer

    config = UMTConfig(bert=options.bert, feature_dim=int(grids.shape[-1]) if grids is not None else 0,
                       lowercase=options.lowercase)
    kit = build_model("umt", config.to_dict())
    extra: dict = {}
    if init is not None:
        saved_bert = init.config["model_config"]["bert"]
        axes = umt_axes(saved_bert, options.bert, init.config.get("tags", BIO_TAGS), BIO_TAGS)
        extra["warm_start"] = transfer_state(init.model.state_dict(), kit.model, axes).to_dict()
    if options.freeze_layers:
        extra["frozen_parameters"] = freeze_bert_layers(kit.model.bert, options.freeze_layers)
    items = _index_items(kit.encode, splits)
    unknown = sum(int((item["input_ids"] == kit.unk_token_id).sum()) for split in items.values() for item in split)
    task = _task(kit, items, grids, has_image, lambda module, total: make_optimizer(module, total, options.lr),
                 options.batch_size, EVAL_BATCH_SIZE["umt"], 1.0)
    return task, kit.model_config | {"unknown_subtokens": unknown} | extra, {}
