"""Image validation: an adversarial folder generated here, where every file gets the expected reason."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from cmner_build.clean.image_check import check_image
from cmner_build.clean.image_dedupe import hamming_distance
from cmner_build.clean.image_pool import check_images
from cmner_build.clean.settings import ImageOptions

from tests.clean_helpers import photo_like

OPTIONS = ImageOptions()


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_with_header_size(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (the pixels are never there): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def sticker(hidden: tuple[int, int, int]) -> Image.Image:
    """A transparent sticker: a shape on a fully transparent background whose hidden colour varies."""
    image = Image.new("RGBA", (300, 300), hidden + (0,))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 60, 260, 240), fill=(220, 30, 30, 255))
    draw.rectangle((120, 20, 180, 280), fill=(30, 30, 200, 255))
    return image


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, expected drop reason or None for kept)."""
    folder = tmp_path_factory.mktemp("adversarial")
    photo = photo_like(11)
    jpeg = encode(photo, "JPEG", quality=90)
    png = encode(photo, "PNG")
    files: dict[str, tuple[bytes, str | None]] = {
        "good.jpg": (jpeg, None),
        "progressive.jpg": (encode(photo, "JPEG", quality=85, progressive=True), None),
        "good.png": (png, None),
        "good.webp": (encode(photo, "WEBP", quality=80), None),
        "zero.jpg": (b"", "empty_file"),
        "login_page.jpg": (b"\n<!DOCTYPE html>\n<html><head><title>Sina Visitor System</title></head><body>",
                           "html_not_image"),
        "error_page.png": (b"<html><body><h1>403 Forbidden</h1></body></html>", "html_not_image"),
        "api_error.jpg": (b'{"ok":0,"msg":"\\u8bf7\\u6c42\\u8fc7\\u4e8e\\u9891\\u7e41"}', "not_an_image"),
        "random.jpg": (bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "not_an_image"),
        "truncated.jpg": (jpeg[: int(len(jpeg) * 0.6)], "truncated"),
        "truncated.png": (png[: int(len(png) * 0.6)], "truncated"),
        "broken_stream.png": (png[:200] + bytes([png[200] ^ 0xFF]) + png[201:], "corrupt"),
        "header_only.jpg": (jpeg[:300], "corrupt"),
        "bomb.png": (png_with_header_size(30_000, 30_000), "decompression_bomb"),
        "tiny.jpg": (encode(photo.resize((80, 60)), "JPEG"), "too_small"),
        "banner.jpg": (encode(photo.resize((1000, 150)), "JPEG"), "extreme_aspect"),
        "blank.jpg": (encode(Image.new("RGB", (400, 300), (250, 250, 250)), "JPEG"), "near_blank"),
        "almost_blank.png": (encode(Image.fromarray(
            np.random.default_rng(2).normal(128, 2, (300, 400)).clip(0, 255).astype(np.uint8)), "PNG"), "near_blank"),
        "gradient.png": (encode(Image.linear_gradient("L").resize((400, 300)), "PNG"), "near_blank"),
        "cmyk.jpg": (encode(photo.convert("CMYK"), "JPEG", quality=90), None),
        "gray16.png": (encode(Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257)), "PNG"), None),
        "palette.png": (encode(photo.quantize(64), "PNG"), None),
        "palette.gif": (encode(photo.quantize(64), "GIF"), None),
        "sticker_black.png": (encode(sticker((0, 0, 0)), "PNG"), None),
        "sticker_white.png": (encode(sticker((255, 255, 255)), "PNG"), None),
    }
    frames = [photo_like(seed, (300, 240)) for seed in (21, 22, 23)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated.gif"] = (animated.getvalue(), "animated")
    animated_webp = io.BytesIO()
    frames[0].save(animated_webp, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    files["animated.webp"] = (animated_webp.getvalue(), "animated")
    mpo = io.BytesIO()  # a phone's multi-picture JPEG: the second frame is a preview, not an animation
    photo.save(mpo, "MPO", save_all=True, append_images=[photo.resize((320, 240))], quality=90)
    files["phone.mpo.jpg"] = (mpo.getvalue(), None)
    rotated = photo.transpose(Image.Transpose.ROTATE_90)  # stored sideways, displayed upright via EXIF 6
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif_rotated.jpg"] = (encode(rotated, "JPEG", quality=90, exif=exif.tobytes()), None)
    result: dict[str, tuple[Path, str | None]] = {}
    for name, (content, reason) in files.items():
        path = folder / name
        path.write_bytes(content)
        result[name] = (path, reason)
    result["missing.jpg"] = (folder / "missing.jpg", "missing_file")
    return result


def test_every_adversarial_file_gets_its_reason_and_nothing_crashes(adversarial) -> None:
    outcome = {name: check_image(n, path, OPTIONS) for n, (name, (path, _)) in enumerate(adversarial.items())}
    got = {name: check.drop_reason for name, check in outcome.items()}
    assert got == {name: reason for name, (_, reason) in adversarial.items()}
    for name, check in outcome.items():
        if check.drop_reason is None:
            assert check.phash is not None and len(check.phash) == 16, name
        if name not in ("missing.jpg",):
            assert check.sha256 is not None and check.file_bytes == adversarial[name][0].stat().st_size


def test_kept_variants_hash_like_the_original(adversarial) -> None:
    """CMYK, 16-bit, palette, WebP, PNG, progressive and EXIF-rotated copies are the same picture."""
    original = check_image(0, adversarial["good.jpg"][0], OPTIONS)
    assert (original.width, original.height, original.format, original.mode) == (640, 480, "JPEG", "RGB")
    for name in ("progressive.jpg", "good.png", "good.webp", "cmyk.jpg", "gray16.png", "palette.png",
                 "palette.gif", "exif_rotated.jpg", "phone.mpo.jpg"):
        check = check_image(1, adversarial[name][0], OPTIONS)
        assert hamming_distance(check.phash, original.phash) <= 6, (name, check.phash, original.phash)
        assert (check.width, check.height) == (640, 480), name
    rotated = check_image(2, adversarial["exif_rotated.jpg"][0], OPTIONS)
    assert rotated.orientation == 6
    assert check_image(3, adversarial["gray16.png"][0], OPTIONS).mode == "I;16"
    assert check_image(4, adversarial["cmyk.jpg"][0], OPTIONS).mode == "CMYK"


def test_rotation_is_applied_before_hashing(adversarial, tmp_path: Path) -> None:
    """Without the EXIF transpose the sideways copy would be far from the original (notes: 30 bits)."""
    original = check_image(0, adversarial["good.jpg"][0], OPTIONS)
    stored_sideways = tmp_path / "sideways.jpg"
    stored_sideways.write_bytes(encode(photo_like(11).transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90))
    sideways = check_image(1, stored_sideways, OPTIONS)
    assert hamming_distance(sideways.phash, original.phash) > 16
    assert (sideways.width, sideways.height) == (480, 640)


def test_transparency_is_composited_on_white(adversarial) -> None:
    black = check_image(0, adversarial["sticker_black.png"][0], OPTIONS)
    white = check_image(1, adversarial["sticker_white.png"][0], OPTIONS)
    assert black.phash == white.phash  # plain convert() would put them 40 bits apart (notes §A3)
    assert black.drop_reason is None


def test_pixel_limit_is_a_setting(adversarial) -> None:
    small_limit = ImageOptions(max_pixels=100_000)
    check = check_image(0, adversarial["good.jpg"][0], small_limit)
    assert check.drop_reason == "decompression_bomb"
    assert "640x480" in check.detail


def test_animated_images_can_be_kept_by_setting(adversarial) -> None:
    check = check_image(0, adversarial["animated.gif"][0], ImageOptions(drop_animated=False))
    assert check.drop_reason is None and check.frames == 3


def test_draft_decoding_is_close_to_full_decoding(adversarial) -> None:
    """Draft (1/2..1/8 DCT scale) and full decode give hashes a few bits apart (notes: 0-4)."""
    import imagehash

    from cmner_build.clean.image_check import _central

    path = adversarial["good.jpg"][0]
    full = str(imagehash.phash(_central(Image.open(path).convert("L"), OPTIONS.hash_margin)))
    assert hamming_distance(check_image(0, path, OPTIONS).phash, full) <= 4


@pytest.fixture(scope="module")
def pool_jobs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("pool")
    jobs = []
    for index in range(70):
        path = folder / f"{index}.jpg"
        photo_like(100 + index, (200, 160)).save(path, "JPEG", quality=85)
        jobs.append((index, path))
    jobs.append((70, folder / "absent.jpg"))
    return jobs


def test_process_pool_gives_the_same_results_as_one_process(pool_jobs) -> None:
    pooled, workers = check_images(pool_jobs, ImageOptions(workers=2))
    single, one = check_images(pool_jobs, ImageOptions(workers=1))
    assert (workers, one) == (2, 1)
    assert pooled == single
    assert [check.image_id for check in pooled] == list(range(71))
    assert pooled[-1].drop_reason == "missing_file"


def test_pool_spawns_instead_of_forking_while_other_threads_run(pool_jobs) -> None:
    import threading

    from cmner_build.clean.image_pool import start_method

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method() == "spawn"
        pooled, workers = check_images(pool_jobs, ImageOptions(workers=2))
    finally:
        stop.set()
        other.join()
    assert workers == 2
    assert pooled == check_images(pool_jobs, ImageOptions(workers=1))[0]


def test_brightness_and_watermark_stay_within_the_threshold(tmp_path: Path) -> None:
    photo = photo_like(5)
    original = tmp_path / "o.jpg"
    photo.save(original, "JPEG", quality=90)
    brighter = tmp_path / "b.jpg"
    ImageEnhance.Brightness(photo).enhance(1.2).save(brighter, "JPEG", quality=90)
    marked = photo.copy()
    ImageDraw.Draw(marked).text((480, 450), "weibo.com/u/1234567890", fill=(255, 255, 255))
    watermark = tmp_path / "w.jpg"
    marked.save(watermark, "JPEG", quality=90)
    base = check_image(0, original, OPTIONS).phash
    for path in (brighter, watermark):
        assert hamming_distance(check_image(1, path, OPTIONS).phash, base) <= OPTIONS.hamming_threshold


def test_unreadable_paths_are_missing_files_not_crashes(tmp_path: Path) -> None:
    for path in (tmp_path / "name\0with-nul.jpg", tmp_path, tmp_path / "absent.jpg"):
        assert check_image(0, path, OPTIONS).drop_reason == "missing_file"


def cut_and_reterminate(raw: bytes, keep: int) -> bytes:
    """A JPEG cut after `keep` bytes whose writer still closed it with the end-of-image marker FF D9."""
    return raw[:keep] + b"\xff\xd9"


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0 (MCU 8 and 16 pixels wide)
def test_a_jpeg_cut_short_but_ending_in_ff_d9_is_truncated(tmp_path: Path, subsampling: int) -> None:
    raw = encode(photo_like(5, (640, 480)), "JPEG", quality=90, subsampling=subsampling)
    for keep in (len(raw) // 3, len(raw) * 9 // 10, len(raw) - 300):
        path = tmp_path / f"cut{keep}.jpg"
        path.write_bytes(cut_and_reterminate(raw, keep))
        check = check_image(1, path, OPTIONS)
        assert check.drop_reason == "truncated", (keep, check.detail)
        assert "mid-grey" in check.detail
    whole = tmp_path / "whole.jpg"
    whole.write_bytes(raw)
    assert check_image(2, whole, OPTIONS).drop_reason is None


def test_real_and_sample_images_are_not_taken_for_cut_ones(shared_data: Path, tmp_path: Path) -> None:
    from cmner_build.commands.demo import sample_dir

    real = sorted((shared_data / "cmner" / "images").glob("*.jpg"))
    sample = sorted((sample_dir() / "images").glob("*.jpg"))
    assert len(real) == 25 and len(sample) > 100
    flagged = [path.name for path in real + sample if check_image(0, path, OPTIONS).drop_reason == "truncated"]
    assert flagged == []
    # ... while each real image cut to 60 % and re-terminated is caught.
    for index, path in enumerate(real):
        raw = path.read_bytes()
        cut = tmp_path / f"{index}.jpg"
        cut.write_bytes(cut_and_reterminate(raw, len(raw) * 6 // 10))
        assert check_image(index, cut, OPTIONS).drop_reason == "truncated", path.name
