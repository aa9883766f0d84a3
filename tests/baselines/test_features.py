"""Region grids: extraction with a tiny local encoder, the cache, the transpose, one / all images."""

from __future__ import annotations

import pytest
import torch

from cmner_build.baselines.data import Post
from cmner_build.baselines.features import FeatureCache, extract_features, post_grids, region_grid
from cmner_build.errors import CmnerError

from tests.baselines_helpers import tiny_resnet, write_image


def test_region_grid_is_a_transpose_not_a_view():
    hidden = torch.arange(2 * 3 * 7 * 7, dtype=torch.float32).view(2, 3, 7, 7)
    grid = region_grid(hidden)
    assert grid.shape == (2, 49, 3)
    # Region 7*i + j holds the channel vector at row i, column j.
    assert torch.equal(grid[1, 7 * 2 + 5], hidden[1, :, 2, 5])
    assert not torch.equal(grid, hidden.view(2, 49, 3))


def test_region_grid_pools_larger_maps_to_7x7():
    assert region_grid(torch.randn(1, 4, 14, 14)).shape == (1, 49, 4)
    with pytest.raises(CmnerError):
        region_grid(torch.randn(1, 10, 4))


def test_extract_is_cached_resumable_and_skips_unreadable_images(tmp_path):
    encoder = str(tiny_resnet(tmp_path / "resnet"))
    images = {}
    for n in range(5):
        path = tmp_path / f"p{n}_0.jpg"
        write_image(path, n)
        images[path.name] = path
    broken = tmp_path / "bad_0.jpg"
    broken.write_bytes(b"not a jpeg")
    images[broken.name] = broken
    cache_dir = tmp_path / "cache"
    first = extract_features(dict(list(images.items())[:3]), cache_dir, encoder=encoder, device=torch.device("cpu"),
                             batch_size=2, shard_size=2)
    assert (first.extracted, first.already_cached, first.dim) == (3, 0, 16)
    second = extract_features(images, cache_dir, encoder=encoder, device=torch.device("cpu"), batch_size=2)
    assert (second.extracted, second.already_cached) == (2, 3)
    assert len(second.failed) == 1 and second.failed[0].startswith("bad_0.jpg")
    cache = FeatureCache(cache_dir)
    assert len(cache) == 5 and "bad_0.jpg" not in cache and cache.dim == 16
    grid = cache.load(["p1_0.jpg"])["p1_0.jpg"]
    assert grid.shape == (49, 16) and grid.dtype == torch.float16 and torch.isfinite(grid.float()).all()
    assert not list(cache_dir.glob("*.tmp"))


def test_missing_encoder_is_a_clear_error(tmp_path):
    path = tmp_path / "a_0.jpg"
    write_image(path, 0)
    with pytest.raises(CmnerError, match="cannot load the image encoder"):
        extract_features({path.name: path}, tmp_path / "cache", encoder=str(tmp_path / "no-such-model"),
                         device=torch.device("cpu"))


class _FakeCache:
    def __init__(self, grids):
        self.grids, self.dim, self.cache_dir = grids, 2, "fake"

    def __contains__(self, name):
        return name in self.grids

    def load(self, names):
        return {name: self.grids[name] for name in names}


def test_post_grids_all_averages_region_by_region_and_one_draws_with_the_seed():
    grids = {f"a_{n}.jpg": torch.full((49, 2), float(n), dtype=torch.float16) for n in range(4)}
    grids["a_0.jpg"][3] = torch.tensor([8.0, 4.0])
    posts = [Post("a", ["x"], ["O"], sorted(grids)), Post("b", ["y"], ["O"], [])]
    result = post_grids(posts, _FakeCache(grids), "all", seed=1)
    assert result.has_image == [True, False] and result.posts_without_image == ["b"]
    assert torch.equal(result.grids[0, 0].float(), torch.tensor([1.5, 1.5]))  # mean of 0, 1, 2, 3
    assert torch.equal(result.grids[0, 3].float(), torch.tensor([3.5, 2.5]))  # (8+1+2+3)/4, (4+1+2+3)/4
    assert torch.equal(result.grids[1].float(), torch.zeros(49, 2))
    drawn = {tuple(post_grids(posts, _FakeCache(grids), "one", seed=s).images_used[0]) for s in range(12)}
    assert all(len(names) == 1 for names in drawn) and len(drawn) > 1  # one image, and the seed matters
    again = post_grids(posts, _FakeCache(grids), "one", seed=5)
    assert again.images_used == post_grids(posts, _FakeCache(grids), "one", seed=5).images_used


def test_post_grids_needs_every_image_extracted():
    posts = [Post("a", ["x"], ["O"], ["a_0.jpg"])]
    with pytest.raises(CmnerError, match="cmner-build features"):
        post_grids(posts, _FakeCache({}), "all", seed=0)
