"""Image region grids: a frozen encoder's 7x7 feature map per image, cached as safetensors shards.

The encoder is loaded with transformers (`AutoImageProcessor` + `AutoModel`, default
`microsoft/resnet-152`; a hub name or a local folder); no torchvision. The processor of the ResNet family
resizes the short side to 256, centre-crops 224 and applies the ImageNet mean/std, so each grid covers
the whole picture (the reference code took a random 224 crop of the unresized image).

`last_hidden_state` (B, C, h, w) is pooled to 7x7 (the identity for ResNet at 224 px) and turned into
49 region vectors with a transpose, (B, C, 7, 7) -> (B, 49, C): a bare `.view(B, 49, C)` would scramble
channels and positions, the defect of the CMNER UMT copy.

Cache layout: `<cache_dir>/shard-NNNNN.safetensors`, each holding up to `shard_size` grids (fp16) keyed
by image file name. A shard is written to a temporary name and renamed, so an interrupted run keeps every
finished shard and the next run extracts only what is missing.
"""

from __future__ import annotations

import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cmner_build.errors import CmnerError

from cmner_build.baselines.settings import DEFAULT_ENCODER
GRID_SIZE = 7
REGIONS = GRID_SIZE * GRID_SIZE
IMAGE_MODES = ("none", "one", "all")


def cache_dir_for(features_root: Path, encoder: str) -> Path:
    """One folder per encoder: 'microsoft/resnet-152' -> features/microsoft--resnet-152."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", encoder.strip("/")).strip("-") or "encoder"
    return Path(features_root) / slug


class FeatureCache:
    """The grids already extracted into a cache folder."""

    def __init__(self, cache_dir: Path) -> None:
        from safetensors import safe_open

        self.cache_dir = Path(cache_dir)
        self.shard_of: dict[str, Path] = {}
        self.dim: int | None = None
        self.shards: list[Path] = sorted(self.cache_dir.glob("shard-*.safetensors")) if self.cache_dir.is_dir() else []
        for shard in self.shards:
            with safe_open(str(shard), framework="pt") as handle:
                for name in handle.keys():
                    self.shard_of[name] = shard
                    if self.dim is None:
                        self.dim = int(handle.get_slice(name).get_shape()[-1])

    def __contains__(self, name: str) -> bool:
        return name in self.shard_of

    def __len__(self) -> int:
        return len(self.shard_of)

    def load(self, names: Sequence[str]):
        """{name: (49, D) fp16 tensor} for the names asked for (all must be cached)."""
        from safetensors import safe_open

        by_shard: dict[Path, list[str]] = {}
        for name in names:
            by_shard.setdefault(self.shard_of[name], []).append(name)
        grids = {}
        for shard, shard_names in by_shard.items():
            with safe_open(str(shard), framework="pt") as handle:
                for name in shard_names:
                    grids[name] = handle.get_tensor(name)
        return grids


@dataclass
class ExtractionReport:
    cache_dir: Path
    images: int = 0
    already_cached: int = 0
    extracted: int = 0
    failed: list[str] = field(default_factory=list)  # "name: reason"
    dim: int | None = None
    device: str = "cpu"


def load_image_encoder(name_or_path: str, device):
    """(processor, model) from a hub name or a local folder; frozen, in eval mode."""
    import torch
    from transformers import AutoImageProcessor, AutoModel

    try:
        processor = AutoImageProcessor.from_pretrained(name_or_path)
        model = AutoModel.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise CmnerError(
            f"cannot load the image encoder {name_or_path!r}: {str(error).splitlines()[0]} "
            "(give a local folder with config.json, preprocessor_config.json and the weights when the hub "
            "cannot be reached)"
        ) from None
    model.eval().requires_grad_(False)
    return processor, model.to(device, dtype=torch.float32)


def _load_rgb(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def extract_features(
    images: dict[str, Path],
    cache_dir: Path,
    *,
    encoder: str = DEFAULT_ENCODER,
    device=None,
    batch_size: int = 32,
    shard_size: int = 256,
    progress: Callable[..., None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ExtractionReport:
    """Extract the grid of every image {file name: path} not yet in the cache.

    on_start(n) is called with the number of images still to extract before the encoder is loaded.
    """
    import torch
    from safetensors.torch import save_file

    from cmner_build.baselines.device import autocast, choose_device

    device = device or choose_device("auto")
    cache_dir = Path(cache_dir)
    cache = FeatureCache(cache_dir)
    report = ExtractionReport(cache_dir, images=len(images), dim=cache.dim, device=str(device))
    todo = [name for name in sorted(images) if name not in cache]
    report.already_cached = len(images) - len(todo)
    if on_start is not None:
        on_start(len(todo))
    if not todo:
        return report
    processor, model = load_image_encoder(encoder, device)
    cache_dir.mkdir(parents=True, exist_ok=True)
    next_shard = 1 + max((int(p.stem.split("-")[1]) for p in cache.shards), default=0)
    pending: dict[str, torch.Tensor] = {}

    def flush() -> None:
        nonlocal next_shard
        if not pending:
            return
        target = cache_dir / f"shard-{next_shard:05d}.safetensors"
        temporary = target.with_suffix(".tmp")
        save_file(pending, str(temporary), metadata={"encoder": encoder, "grid": str(GRID_SIZE)})
        os.replace(temporary, target)
        next_shard += 1
        pending.clear()

    # PIL decodes with the GIL released, so threads overlap JPEG decoding with the encoder.
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for start in range(0, len(todo), batch_size):
            names = todo[start : start + batch_size]
            loaded = list(pool.map(lambda name: _try_load(images[name]), names))
            good = [(name, image) for name, image in zip(names, loaded) if not isinstance(image, str)]
            report.failed.extend(f"{name}: {image}" for name, image in zip(names, loaded) if isinstance(image, str))
            if good:
                pixels = processor(images=[image for _, image in good], return_tensors="pt")["pixel_values"]
                with torch.inference_mode(), autocast(device):
                    hidden = model(pixel_values=pixels.to(device)).last_hidden_state
                grids = region_grid(hidden.float())
                for (name, _), grid in zip(good, grids.to(torch.float16).cpu()):
                    pending[name] = grid.contiguous()
                report.extracted += len(good)
                report.dim = grids.shape[-1]
                if len(pending) >= shard_size:
                    flush()
            if progress is not None:
                progress(len(names))
    flush()
    return report


def _try_load(path: Path):
    try:
        return _load_rgb(path)
    except Exception as error:  # any undecodable file is reported and skipped, never fatal
        return f"{type(error).__name__}: {error}"


def region_grid(hidden):
    """(B, C, h, w) feature map -> (B, 49, C) region vectors, pooled to 7x7 and correctly transposed."""
    import torch.nn.functional as F

    if hidden.dim() != 4:
        raise CmnerError(
            f"the image encoder returned last_hidden_state of shape {tuple(hidden.shape)}; "
            "a convolutional encoder with a (batch, channels, height, width) map is needed (e.g. ResNet)"
        )
    pooled = F.adaptive_avg_pool2d(hidden, GRID_SIZE)
    return pooled.flatten(2).transpose(1, 2)


@dataclass
class PostGrids:
    grids: object  # (N, 49, D) fp16 tensor
    has_image: list[bool]
    images_used: list[list[str]]  # file names that went into each post's grid
    posts_without_image: list[str]


def post_grids(posts: Sequence, cache: FeatureCache, mode: str, seed: int) -> PostGrids:
    """One (49, D) grid per post: `one` draws one image per post with the seed, `all` averages the
    post's grids region by region (the CMNER authors' method); posts without images get zeros."""
    import torch

    if mode not in ("one", "all"):
        raise ValueError(f"post_grids needs mode one or all, not {mode!r}")
    missing = sorted({name for post in posts for name in post.image_files if name not in cache})
    if missing:
        raise CmnerError(
            f"{len(missing)} images have no extracted features (e.g. {missing[0]}) in {cache.cache_dir}; "
            "run `cmner-build features --export DIR` (with the same --encoder) first"
        )
    if cache.dim is None:
        raise CmnerError(f"no image features in {cache.cache_dir}; run `cmner-build features --export DIR` first")
    grids = torch.zeros(len(posts), REGIONS, cache.dim, dtype=torch.float16)
    has_image: list[bool] = []
    used: list[list[str]] = []
    without: list[str] = []
    for index, post in enumerate(posts):
        names = sorted(post.image_files)
        if mode == "one" and names:
            # Seeded per post, so the draw does not depend on the order or number of posts.
            names = [random.Random(f"{seed}:{post.post_id}").choice(names)]
        if not names:
            has_image.append(False)
            used.append([])
            without.append(post.post_id)
            continue
        loaded = cache.load(names)
        grids[index] = torch.stack([loaded[name].float() for name in names]).mean(0).to(torch.float16)
        has_image.append(True)
        used.append(names)
    return PostGrids(grids, has_image, used, without)

