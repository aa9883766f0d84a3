"""Validate one image file, filter it, and compute its perceptual hash, through ONE decode path.

The decode path (docs/clean.md, `images`), the same for every image so hashes are comparable:
  1. read the bytes (SHA-256 of the raw file), reject empty files and HTML pages saved as images;
  2. open the header: unidentifiable bytes, decompression bombs (checked on the header's size, before
     any pixel is decoded) and animated GIF/WebP/APNG (dropped: the first frame would collide with
     every other sticker sharing it) are caught here; the EXIF orientation is read here too;
  3. JPEG: `draft('RGB', (64, 64))` makes libjpeg decode at 1/2..1/8 scale (about 3x faster; every
     block is still decoded, so truncation is still detected);
  4. `load()` decodes everything: a truncated or corrupt file fails here (`verify()` would not notice);
     a JPEG cut short but re-terminated with FF D9 decodes without error, its missing blocks as
     exact mid-grey: a run of them ending the last row marks it truncated (`_missing_jpeg_blocks`);
  5. to RGB: alpha is composited on white (a transparent sticker's hidden pixels otherwise move pHash
     by 40 bits), 16-bit images are scaled (Pillow's I;16 -> L conversion clips), CMYK and palette
     images are converted; then the EXIF orientation is applied. The average colour balance
     (`chroma`) is kept: pHash sees only grey levels, so two flat graphics with the same layout in
     different colours collide, and the dedupe also requires similar colour;
  6. filters on the displayed size (shortest side, aspect ratio) and on the grey-level standard
     deviation (near-blank images all share pHash 8000000000000000);
  7. the 64-bit pHash of the central region: `images.hash_margin` (8 %) is cut from every side first.
     Weibo stamps "weibo.com/u/..." into the bottom-right corner of every repost; on a low-texture
     real CMNER image (sky and sea) that mark alone moved the full-frame pHash by 14-20 bits, past any
     safe threshold. Without the margins every watermark style tried moved it by at most 2 bits, and
     distinct real images stay 20 or more bits apart (22 full-frame).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageStat, UnidentifiedImageError

from cmner_build.safety import UnsafeInputError, regular_file

from cmner_build.clean.settings import ImageOptions

BLANK_HASHES = ("0000000000000000", "8000000000000000")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title", b"<script")


@dataclass
class ImageCheck:
    image_id: int
    drop_reason: str | None = None
    detail: str = ""
    sha256: str | None = None
    file_bytes: int = 0
    format: str | None = None
    mode: str | None = None
    width: int | None = None  # as displayed, after the EXIF orientation
    height: int | None = None
    frames: int = 1
    orientation: int = 1
    gray_stddev: float | None = None
    chroma: tuple[float, float] | None = None  # mean r/(r+g+b), g/(r+g+b); grey images (1/3, 1/3)
    phash: str | None = None  # 16 hex digits

    def meta(self) -> dict[str, object]:
        """What goes into images.meta under "check" (the columns hold sha256, phash, width, height)."""
        return {
            "format": self.format, "mode": self.mode, "bytes": self.file_bytes, "frames": self.frames,
            "orientation": self.orientation,
            "gray_stddev": None if self.gray_stddev is None else round(self.gray_stddev, 2),
            "chroma": None if self.chroma is None else list(self.chroma),
            "detail": self.detail,
        }


def looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(b"<") and any(marker in start[:1024] for marker in _HTML_MARKERS)


def check_image(image_id: int, path: Path, options: ImageOptions) -> ImageCheck:
    """Never raises for a bad file: every failure becomes a drop reason with a detail."""
    check = ImageCheck(image_id)
    try:
        raw = Path(regular_file(Path(path))).read_bytes()  # a link in images/ is never followed
    except UnsafeInputError as error:
        check.drop_reason, check.detail = "missing_file", str(error)
        return check
    except (OSError, ValueError) as error:  # ValueError: a name with a NUL byte
        check.drop_reason, check.detail = "missing_file", f"{path}: {getattr(error, 'strerror', None) or error}"
        return check
    check.file_bytes = len(raw)
    check.sha256 = hashlib.sha256(raw).hexdigest()
    if not raw:
        check.drop_reason = "empty_file"
        return check
    if looks_like_html(raw[:2048]):
        check.drop_reason, check.detail = "html_not_image", "the file is an HTML page, not an image"
        return check
    try:
        _decode_and_hash(raw, check, options)
    except Exception as error:  # noqa: BLE001 - a hostile file must never stop the stage
        check.drop_reason = check.drop_reason or "corrupt"
        check.detail = check.detail or f"{type(error).__name__}: {error}"
    return check


def _decode_and_hash(raw: bytes, check: ImageCheck, options: ImageOptions) -> None:
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own pixel limit; ours (options.max_pixels) is applied just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError as error:
        check.drop_reason, check.detail = "decompression_bomb", str(error)
        return
    except UnidentifiedImageError:
        check.drop_reason, check.detail = "not_an_image", "no image format recognises the bytes"
        return
    check.format, check.mode = image.format, image.mode
    width, height = image.size
    check.width, check.height = width, height  # header size; the displayed size is set after decoding
    check.frames = int(getattr(image, "n_frames", 1) or 1)
    if width * height > options.max_pixels:
        check.drop_reason = "decompression_bomb"
        check.detail = f"{width}x{height} = {width * height} pixels > images.max_pixels {options.max_pixels}"
        return
    # Only these formats animate: an MPO's second frame is a phone's preview or depth map, a
    # multi-page TIFF's first page is the picture.
    if image.format in ("GIF", "PNG", "WEBP") and getattr(image, "is_animated", False) and options.drop_animated:
        check.drop_reason, check.detail = "animated", f"{check.frames} frames"
        return
    is_jpeg = image.format in ("JPEG", "MPO")
    if is_jpeg:
        # The orientation sits in the JPEG header: read it before draft() (PNG's getexif() decodes the image).
        check.orientation = _orientation(image)
        image.draft("RGB", (64, 64))
    try:
        image.load()
    except OSError as error:
        message = str(error)
        check.drop_reason = "truncated" if "truncated" in message else "corrupt"
        check.detail = message
        return
    if is_jpeg and (missing := _missing_jpeg_blocks(image, width)):
        check.drop_reason, check.detail = "truncated", missing
        return
    if not is_jpeg:
        check.orientation = _orientation(image)
    if check.orientation >= 5:  # 5-8 swap the axes
        width, height = height, width
    check.width, check.height = width, height
    colour = _to_rgb_on_white(image)
    transpose = _ORIENTATION_TRANSPOSE.get(check.orientation)
    if transpose is not None:
        colour = colour.transpose(transpose)
    red, green, blue = ImageStat.Stat(colour).mean if colour.mode == "RGB" else (1.0, 1.0, 1.0)
    total = (red + green + blue) or 1.0
    check.chroma = (round(red / total, 4), round(green / total, 4))
    gray = colour.convert("L")
    check.gray_stddev = float(ImageStat.Stat(gray).stddev[0])
    check.phash = str(imagehash.phash(_central(gray, options.hash_margin), hash_size=8))
    if min(width, height) < options.min_side:
        check.drop_reason, check.detail = "too_small", f"{width}x{height}: shortest side < images.min_side {options.min_side}"
    elif max(width, height) / max(1, min(width, height)) > options.max_aspect_ratio:
        check.drop_reason = "extreme_aspect"
        check.detail = f"{width}x{height}: aspect ratio > images.max_aspect_ratio {options.max_aspect_ratio}"
    elif check.gray_stddev < options.blank_stddev or check.phash in BLANK_HASHES:
        check.drop_reason = "near_blank"
        check.detail = f"grey-level standard deviation {check.gray_stddev:.1f} (images.blank_stddev {options.blank_stddev})"


def _missing_jpeg_blocks(image: Image.Image, full_width: int) -> str | None:
    """Why the decoded JPEG lacks its last blocks, or None.

    A JPEG cut short and re-terminated with FF D9 decodes without any error: libjpeg fills every block
    after the cut with zero coefficients, which decode to exactly (128, 128, 128). Decoding is in MCU
    order, so the cut shows as a run of exact mid-grey at the right end of the last row that is at
    least one MCU wide (all of the last row when the cut is further up). A real photo never ends in
    such a run (none of the real or sample images does); a graphic whose bottom-right corner is flat
    #808080 would be taken for a cut file. A progressive JPEG cut after its first scans decodes as a
    complete, blurrier picture and is not caught here.
    """
    if image.mode not in ("RGB", "L"):
        return None
    pixels = np.asarray(image)
    last_row = pixels[-1].reshape(pixels.shape[1], -1)
    grey = np.all(last_row == 128, axis=1)
    run = int(np.argmin(grey[::-1])) if not grey.all() else len(grey)
    scale = max(1.0, full_width / max(1, image.size[0]))  # draft() decoded at 1/scale
    horizontal_sampling = max((layer[1] for layer in getattr(image, "layer", []) or []), default=1)
    mcu_width = max(1, int(8 * horizontal_sampling / scale))
    if run < mcu_width:
        return None
    return (f"the last {run} of {len(grey)} pixels of the last row are exactly mid-grey (128): the scan data "
            "ends early (a file cut short and re-terminated with FF D9)")


def _central(gray: Image.Image, margin: float) -> Image.Image:
    """The image without a `margin` fraction on each side: where Weibo stamps its corner watermark."""
    if margin <= 0:
        return gray
    width, height = gray.size
    dx, dy = int(width * margin), int(height * margin)
    return gray.crop((dx, dy, width - dx, height - dy)) if width - 2 * dx >= 8 and height - 2 * dy >= 8 else gray


def _orientation(image: Image.Image) -> int:
    try:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - malformed EXIF: treat as upright
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _to_rgb_on_white(image: Image.Image) -> Image.Image:
    """RGB, or L for grey images: alpha composited on white, 16-bit scaled to 8 bits."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("L", "RGB"):
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and values.max(initial=0) > 255):
            values = values / 257.0  # 0..65535 -> 0..255
        elif mode == "F":
            low, high = values.min(initial=0), values.max(initial=0)
            values = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, palette, LAB, HSV, ...


_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
