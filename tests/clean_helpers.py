"""Helpers for the clean-stage tests: crawled posts and downloaded images put straight into a store."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterable, Sequence

from cmner_build.store import Store, utc_now


def add_post(store: Store, post_id: str, text: str, *, status: str = "crawled", topic: str | None = "体育",
             source: str = "crawl") -> None:
    now = utc_now()
    store.execute(
        "INSERT INTO posts (post_id, topic, source, original_text, text, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (post_id, topic, source, text, text, status, now, now),
    )


def add_images(store: Store, post_id: str, entries: Iterable[tuple[str | None, str]]) -> None:
    """entries: (file name, image status) in position order."""
    for position, (file_name, status) in enumerate(entries):
        store.execute(
            "INSERT INTO images (post_id, position, file_name, status) VALUES (?, ?, ?, ?)",
            (post_id, position, file_name, status),
        )


def snapshot(store: Store, tables: Sequence[str] = ("posts", "images", "clean_posts", "clean_rule_hits")) -> dict:
    """Every row of the tables that exist, for "nothing changed" assertions."""
    existing = {row[0] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {table: [tuple(row) for row in store.query(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in tables if table in existing}


def photo_like(seed: int, size: tuple[int, int] = (640, 480)):
    """A synthetic photo: a smooth random colour field plus a few shapes (distinct seeds: distinct pHash)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    small = Image.new("RGB", (6, 5))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(30)])
    image = small.resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(4):
        x0, y0 = rng.randrange(width - 40), rng.randrange(height - 40)
        box = (x0, y0, rng.randrange(x0 + 20, width), rng.randrange(y0 + 20, height))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


def save_photo(path: Path, seed: int, size: tuple[int, int] = (640, 480), **save_options) -> Path:
    photo_like(seed, size).save(path, **({"format": "JPEG", "quality": 90} | save_options))
    return path
