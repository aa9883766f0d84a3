"""`images --report`: one self-contained HTML page showing what was dropped and why, with thumbnails.

Thumbnails are small JPEGs embedded as data URIs, so the page can be mailed or copied alone. Files
that cannot or must not be decoded (missing, empty, HTML, corrupt, truncated, decompression bombs)
get a labelled placeholder instead. A duplicate is shown beside the image it repeats.
"""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmner_build.safety import atomic_write_text, regular_file
from cmner_build.store import Store, utc_now

THUMB_SIZE = 160
MAX_CARDS_PER_REASON = 200
# Never decoded for a thumbnail: nothing to show, or decoding is the danger.
NO_THUMBNAIL = {"missing_file", "empty_file", "html_not_image", "not_an_image", "decompression_bomb", "truncated", "corrupt"}
REASON_HELP = {
    "missing_file": "no file under images/ for a download that was recorded",
    "empty_file": "zero-byte file",
    "html_not_image": "an HTML page (error or login page) saved under an image name",
    "not_an_image": "bytes no image format recognises",
    "corrupt": "the decoder failed",
    "truncated": "the file ends before the image does",
    "decompression_bomb": "more pixels than images.max_pixels",
    "animated": "animated GIF / WebP / PNG (stickers, memes)",
    "too_small": "shortest side below images.min_side",
    "extreme_aspect": "aspect ratio above images.max_aspect_ratio",
    "near_blank": "almost uniform (grey-level deviation below images.blank_stddev)",
    "duplicate_in_post": "the same picture as another image of the post",
    "duplicate_across_posts": "the same picture as an image of another post",
}


@dataclass
class DroppedImage:
    file_name: str | None
    post_id: str
    reason: str
    detail: str
    duplicate_of: str | None = None
    distance: int | None = None


@dataclass
class ImageReportSummary:
    path: Path
    dropped: list[DroppedImage] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)
    posts_dropped: dict[str, list[str]] = field(default_factory=dict)
    posts_waiting: list[str] = field(default_factory=list)


def dropped_images(store: Store) -> list[DroppedImage]:
    result: list[DroppedImage] = []
    for row in store.query(
        "SELECT i.file_name, i.post_id, i.drop_reason, i.meta FROM images i JOIN posts p ON p.post_id = i.post_id"
        " WHERE i.status = 'dropped' ORDER BY i.drop_reason, p.rowid, i.position"
    ):
        check = json.loads(row["meta"] or "{}").get("check", {})
        result.append(DroppedImage(row["file_name"], row["post_id"], row["drop_reason"] or "unknown",
                                   check.get("detail", ""), check.get("duplicate_of"), check.get("distance")))
    return result


def write_image_report(store: Store, images_dir: Path, out_path: Path) -> ImageReportSummary:
    summary = ImageReportSummary(out_path, dropped_images(store))
    for image in summary.dropped:
        summary.by_reason[image.reason] = summary.by_reason.get(image.reason, 0) + 1
    for row in store.query(
        "SELECT post_id, drop_reason FROM posts WHERE status = 'dropped' AND drop_reason IN ('no_usable_image', 'no_image')"
        " ORDER BY rowid"
    ):
        summary.posts_dropped.setdefault(row["drop_reason"], []).append(row["post_id"])
    summary.posts_waiting = [
        row["post_id"] for row in store.query(
            "SELECT DISTINCT p.post_id FROM posts p JOIN images i ON i.post_id = p.post_id"
            " WHERE p.status = 'cleaned' AND i.status IN ('pending', 'downloaded') ORDER BY p.rowid"
        )
    ]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, _render(summary, images_dir))
    return summary


def thumbnail_data_uri(path: Path) -> str | None:
    """A small JPEG of the image (alpha on white, EXIF orientation applied) as a data URI; None if it fails."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(regular_file(path)) as image:  # a link is never followed
                image.draft("RGB", (THUMB_SIZE, THUMB_SIZE))
                image = ImageOps.exif_transpose(image)
                image.thumbnail((THUMB_SIZE, THUMB_SIZE))
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                buffer = io.BytesIO()
                Image.alpha_composite(white, rgba).convert("RGB").save(buffer, "JPEG", quality=70)
    except Exception:  # noqa: BLE001 - the page must be written whatever the file holds
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(images_dir: Path, file_name: str | None, reason: str, caption: str) -> str:
    uri = None
    if file_name and reason not in NO_THUMBNAIL and Path(file_name).name == file_name:
        uri = thumbnail_data_uri(images_dir / file_name)
    picture = (
        f'<img src="{uri}" alt="{html.escape(file_name or "")}">' if uri
        else f'<div class="placeholder">{html.escape(reason)}</div>'
    )
    return f"<figure>{picture}<figcaption>{caption}</figcaption></figure>"


def _render(summary: ImageReportSummary, images_dir: Path) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cmner-build: dropped images</title>",
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.cards{display:flex;flex-wrap:wrap;gap:1em}"
        ".card{border:1px solid #ddd;border-radius:6px;padding:.6em;display:flex;gap:.5em;align-items:flex-start}"
        "figure{margin:0;width:170px}figcaption{font-size:.8em;word-break:break-all}"
        ".placeholder{width:160px;height:120px;background:#eee;display:flex;align-items:center;"
        "justify-content:center;color:#a00;font-weight:bold}img{max-width:160px;max-height:160px}"
        ".detail{font-size:.8em;color:#555;max-width:360px}</style></head><body>",
        f"<h1>Dropped images</h1><p>{len(summary.dropped)} images dropped; written {esc(utc_now())}.</p>",
        "<table><tr><th>reason</th><th>images</th><th>meaning</th></tr>",
    ]
    for reason, count in sorted(summary.by_reason.items(), key=lambda item: (-item[1], item[0])):
        parts.append(f"<tr><td><a href=\"#{esc(reason)}\">{esc(reason)}</a></td><td>{count}</td>"
                     f"<td>{esc(REASON_HELP.get(reason, ''))}</td></tr>")
    parts.append("</table>")
    for reason, ids in summary.posts_dropped.items():
        parts.append(f"<h2>Posts dropped: {esc(reason)} ({len(ids)})</h2><p>{esc(', '.join(ids))}</p>")
    if summary.posts_waiting:
        parts.append(f"<h2>Posts waiting for downloads ({len(summary.posts_waiting)})</h2>"
                     f"<p>{esc(', '.join(summary.posts_waiting))}</p>")
    for reason in sorted(summary.by_reason):
        images = [image for image in summary.dropped if image.reason == reason]
        parts.append(f"<h2 id=\"{esc(reason)}\">{esc(reason)} ({len(images)})</h2><div class=\"cards\">")
        for image in images[:MAX_CARDS_PER_REASON]:
            caption = f"{esc(image.file_name or '(no file)')}<br>post {esc(image.post_id)}"
            card = [_figure(images_dir, image.file_name, reason, caption)]
            if image.duplicate_of:
                card.append(_figure(images_dir, image.duplicate_of, "kept",
                                    f"kept: {esc(image.duplicate_of)}<br>distance {image.distance}"))
            card.append(f"<div class=\"detail\">{esc(image.detail)}</div>")
            parts.append(f"<div class=\"card\">{''.join(card)}</div>")
        parts.append("</div>")
        if len(images) > MAX_CARDS_PER_REASON:
            rest = ", ".join(image.file_name or "(no file)" for image in images[MAX_CARDS_PER_REASON:])
            parts.append(f"<p>… and {len(images) - MAX_CARDS_PER_REASON} more: {esc(rest)}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def summary_rows(summary: ImageReportSummary) -> list[dict[str, Any]]:
    return [
        {"file": image.file_name, "post_id": image.post_id, "reason": image.reason, "detail": image.detail}
        for image in summary.dropped
    ]
