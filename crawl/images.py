"""Picture bytes: type from magic bytes, completeness, and writing `{post_id}_{n}.{ext}` safely.

A picture counts as complete when it has the right start and end markers (weibo-crawler's
`download_one_file` check, docs/weibo.md §3): JPEG FF D8 FF … FF D9, PNG signature … IEND, GIF … 3B,
WebP with a RIFF size matching the byte count. Files are written to a temporary name and renamed, so
a kill never leaves half a picture under its final name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from cmner_build.safety import check_post_id, is_valid_post_id, name_problem, path_inside

EXTENSIONS = ("jpg", "png", "gif", "webp")


class BadImage(ValueError):
    """Bytes that are not a complete picture of a known type; `reason` uses the clean stage's names."""

    def __init__(self, message: str, reason: str = "not_an_image") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageFile:
    file_name: str
    sha256: str
    width: int | None
    height: int | None
    size: int


def image_type(data: bytes) -> str:
    """The extension for these bytes, or BadImage when they are not a complete JPEG/PNG/GIF/WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        # EOI may be followed by a little padding; an entropy-coded segment never holds FF D9.
        if b"\xff\xd9" in data[-64:]:
            return "jpg"
        raise BadImage("JPEG without its end marker (truncated)", "truncated")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if b"IEND" in data[-16:]:
            return "png"
        raise BadImage("PNG without its IEND chunk (truncated)", "truncated")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if data.rstrip(b"\x00").endswith(b"\x3b"):
            return "gif"
        raise BadImage("GIF without its trailer (truncated)", "truncated")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if int.from_bytes(data[4:8], "little") + 8 <= len(data):
            return "webp"
        raise BadImage("WebP shorter than its RIFF header says (truncated)", "truncated")
    if not data:
        raise BadImage("empty body", "empty_file")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        raise BadImage("an HTML page, not a picture", "html_not_image")
    if head.startswith((b"<svg", b"<?xml")):
        raise BadImage("an SVG/XML document, not a picture", "not_an_image")
    raise BadImage(f"not a picture (starts with {data[:8]!r})")


def image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(BytesIO(data)) as image:
            return image.size
    except Exception:  # size is optional: a picture Pillow cannot read is still kept for the clean stage
        return None, None


def release_name(post_id: str, position: int, ext: str) -> str:
    return f"{post_id}_{position}.{ext}"


def write_image(images_dir: Path, post_id: str, position: int, data: bytes) -> ImageFile:
    """Check and write the picture as images/{post_id}_{position}.{ext} (atomic).

    The name is built from a checked post id and proven to stay inside images/ (UnsafeInputError).
    """
    ext = image_type(data)
    name = release_name(check_post_id(post_id), position, ext)
    target = path_inside(images_dir, name)
    temporary = target.with_name(f".{name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, target)
    width, height = image_size(data)
    return ImageFile(name, hashlib.sha256(data).hexdigest(), width, height, len(data))


def existing_image(images_dir: Path, post_id: str, position: int) -> tuple[ImageFile, bytes] | None:
    """A complete file already written for this picture (by a run killed before it could record it)."""
    if not is_valid_post_id(post_id):
        return None
    for ext in EXTENSIONS:
        path = path_inside(images_dir, release_name(post_id, position, ext))
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            try:
                if image_type(data) != ext:
                    continue
            except BadImage:
                continue
            width, height = image_size(data)
            return ImageFile(path.name, hashlib.sha256(data).hexdigest(), width, height, len(data)), data
    return None


def keep_in_archive(image_path: Path, archive_images_dir: Path, pid: str) -> Path:
    """archive/images/<pid>.<ext>: a hard link to the workspace file (no second copy), else a copy."""
    archive_images_dir.mkdir(parents=True, exist_ok=True)
    target = path_inside(archive_images_dir, f"{pid}{image_path.suffix}")
    if target.exists():
        return target
    try:
        os.link(image_path, target)
    except OSError:
        shutil.copyfile(image_path, target)
    return target


def find_archived_image(archive_images_dir: Path, pid: str) -> Path | None:
    """The archived bytes of picture `pid`: a regular file (never a link) inside the archive's images/."""
    if name_problem(pid) is not None:
        return None
    for ext in EXTENSIONS + ("jpeg",):
        path = path_inside(archive_images_dir, f"{pid}.{ext}")
        if path.is_file() and not path.is_symlink():
            return path
    return None
