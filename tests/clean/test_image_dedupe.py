"""Near-duplicate search over pHashes: exact against brute force, and on the 25 real CMNER images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from cmner_build.clean.image_check import check_image
from cmner_build.clean.image_dedupe import (
    _BYTE_POPCOUNT,
    clusters,
    hamming_distance,
    hashes_to_array,
    near_duplicate_pairs,
    popcount64,
)
from cmner_build.clean.settings import ImageOptions


def brute_force(hashes: list[int], threshold: int) -> set[tuple[int, int, int]]:
    return {
        (i, j, (hashes[i] ^ hashes[j]).bit_count())
        for i in range(len(hashes)) for j in range(i + 1, len(hashes))
        if (hashes[i] ^ hashes[j]).bit_count() <= threshold
    }


@pytest.mark.parametrize("block", [1, 7, 512])
def test_pairs_match_brute_force_across_block_boundaries(block: int) -> None:
    rng = np.random.default_rng(0)
    hashes = [int(value) for value in rng.integers(0, 2**63, 300, dtype=np.int64)]
    for index in range(0, 300, 10):  # planted near-duplicates: flip a few bits of an earlier hash
        flips = rng.choice(64, size=int(rng.integers(0, 9)), replace=False)
        hashes[index + 5] = hashes[index] ^ int(sum(1 << int(bit) for bit in flips))
    hashes[299] = hashes[0]
    found = near_duplicate_pairs(np.array(hashes, dtype=np.uint64), 8, block=block)
    assert {tuple(row) for row in found.tolist()} == brute_force(hashes, 8)
    assert len(found) >= 31


def test_byte_table_popcount_agrees_with_the_ufunc() -> None:
    values = np.random.default_rng(1).integers(0, 2**63, 1000, dtype=np.int64).astype(np.uint64)
    table = _BYTE_POPCOUNT[values.view(np.uint8)].reshape(-1, 8).sum(axis=-1)
    assert (popcount64(values).astype(np.int64) == table).all()
    assert hamming_distance("8000000000000000", "0000000000000001") == 2


def test_clusters_are_connected_components() -> None:
    pairs = np.array([[0, 1, 3], [1, 4, 2], [5, 6, 0]], dtype=np.int64)
    assert clusters(7, pairs) == [[0, 1, 4], [5, 6]]
    assert clusters(3, np.zeros((0, 3), dtype=np.int64)) == []
    assert list(hashes_to_array(["ffffffffffffffff", "0000000000000001"])) == [2**64 - 1, 1]


def variants(image: Image.Image) -> dict[str, Image.Image]:
    """The copies a repost makes: re-encoded smaller, resized to Weibo's mw690, a corner watermark, brighter."""
    width, height = image.size
    marked = image.copy()  # Weibo's server-side mark: white text with a thin dark outline, bottom right
    font = ImageFont.load_default(size=max(12, height // 28))
    draw = ImageDraw.Draw(marked)
    text = "weibo.com/u/1234567890"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
    draw.text((width - (right - left) - 12, height - (bottom - top) - 10), text, font=font,
              fill=(255, 255, 255), stroke_width=1, stroke_fill=(40, 40, 40))
    return {
        "reencoded": image,  # saved below at quality 60
        "mw690": image.resize((690, round(height * 690 / width)), Image.Resampling.LANCZOS),
        "watermarked": marked,
        "brighter": ImageEnhance.Brightness(image).enhance(1.15),
    }


def test_real_images_and_their_copies(shared_data: Path, tmp_path: Path) -> None:
    originals = sorted((shared_data / "cmner" / "images").glob("*.jpg"))
    assert len(originals) == 25
    options = ImageOptions()
    paths: list[tuple[str, Path]] = []
    for original in originals:
        paths.append((original.stem, original))
        with Image.open(original) as image:
            for kind, copy in variants(image.convert("RGB")).items():
                target = tmp_path / f"{original.stem}__{kind}.jpg"
                copy.save(target, "JPEG", quality=60 if kind == "reencoded" else 85)
                paths.append((original.stem, target))
    checks = [check_image(index, path, options) for index, (_, path) in enumerate(paths)]
    assert all(check.drop_reason is None for check in checks), [(c.image_id, c.drop_reason) for c in checks if c.drop_reason]
    hashes = hashes_to_array([check.phash for check in checks])
    groups = clusters(len(paths), near_duplicate_pairs(hashes, options.hamming_threshold))
    by_original = sorted(sorted(paths[index][0] for index in group) for group in groups)
    # Every original forms one group with its four copies, and no two real images are grouped.
    assert by_original == [[stem] * 5 for stem in sorted(p.stem for p in originals)]
    original_hashes = [check.phash for (stem, path), check in zip(paths, checks) if path in originals]
    closest = min(hamming_distance(a, b) for i, a in enumerate(original_hashes) for b in original_hashes[i + 1 :])
    assert closest > options.hamming_threshold
