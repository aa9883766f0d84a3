"""The images stage over the store: check every downloaded image of cleaned posts, dedupe, promote posts.

  * every 'downloaded' image of a post in status cleaned (or ready) is decoded, filtered and hashed
    (`image_check.check_image`), in a process pool when there are many;
  * near-duplicates (pHash Hamming distance <= images.hamming_threshold, and an average colour balance
    within images.colour_tolerance, since pHash is colour-blind) are clustered together with
    the images already kept in the corpus; per cluster one image stays: an already kept one, else the
    largest, else the earliest crawled. The others are dropped as duplicate_in_post or
    duplicate_across_posts, with the image they repeat in images.meta;
  * a cleaned post with a kept image becomes 'ready'; one whose images were all dropped becomes
    'dropped' (no_usable_image, or no_image when it never had one); one still waiting for a download
    stays 'cleaned' and is reported.

Kept and dropped images are final: re-running only looks at new downloads, so it changes nothing.
After changing the [images] settings, `recheck=True` (`images --recheck`) decides every image of
those posts again.
Images of dropped posts take no part. The images of imported releases (gold from the start) are
checked, filtered and deduplicated the same way; their posts keep their status.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from cmner_build.config import Settings
from cmner_build.safety import fault_point, stage_lock
from cmner_build.store import Store, utc_now

from cmner_build.clean.image_check import ImageCheck
from cmner_build.clean.image_dedupe import clusters, hamming_distance, hashes_to_array, near_duplicate_pairs
from cmner_build.clean.image_pool import check_images
from cmner_build.clean.settings import ImageOptions

@dataclass
class ImagesReport:
    checked: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> images dropped by this run
    posts_ready: list[str] = field(default_factory=list)
    posts_dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> post ids
    posts_waiting: list[str] = field(default_factory=list)  # cleaned posts with images still to download
    images_of_uncleaned_posts: int = 0
    workers: int = 1
    dropped_files: list[tuple[str, str, str]] = field(default_factory=list)  # (file, reason, detail) of this run

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Candidate:
    """An image that takes part in the dedupe: one checked now, or one kept by an earlier run."""

    image_id: int
    post_id: str
    position: int
    file_name: str | None
    phash: str
    chroma: tuple[float, float] | None
    area: int
    posted_at: str  # ISO-8601; '' when unknown
    post_order: int
    already_kept: bool


# Posts whose images this stage decides on: cleaned and ready ones, and (when re-checking) the ones
# it dropped itself for want of a usable image.
OWN_DROPS = ("no_usable_image", "no_image")
_POSTS = "p.status IN ('cleaned', 'ready')"
_POSTS_RECHECK = f"(p.status IN ('cleaned', 'ready') OR (p.status = 'dropped' AND p.drop_reason IN {OWN_DROPS}))"
# Imported releases' posts are gold from the start: their images are checked (and re-checked) like
# crawled ones, but the post's status is the release's and is never changed here.
_IMPORTED = "(p.status = 'gold' AND p.source LIKE 'import:%')"


def _to_check(recheck: bool, imported_only: bool = False) -> str:
    if imported_only:
        statuses = "('downloaded', 'kept', 'dropped')" if recheck else "('downloaded')"
        return f"FROM images i JOIN posts p ON p.post_id = i.post_id WHERE i.status IN {statuses} AND {_IMPORTED}"
    if recheck:  # every decided image again: for changed [images] settings
        return (f"FROM images i JOIN posts p ON p.post_id = i.post_id"
                f" WHERE i.status IN ('downloaded', 'kept', 'dropped') AND ({_POSTS_RECHECK} OR {_IMPORTED})")
    return (f"FROM images i JOIN posts p ON p.post_id = i.post_id"
            f" WHERE i.status = 'downloaded' AND ({_POSTS} OR {_IMPORTED})")


def images_to_check(store: Store, recheck: bool = False, imported_only: bool = False) -> int:
    return store.scalar(f"SELECT COUNT(*) {_to_check(recheck, imported_only)}")


def process_images(
    store: Store,
    images_dir: Path,
    options: ImageOptions,
    progress: Callable[[int], None] | None = None,
    recheck: bool = False,
    pool: ProcessPoolExecutor | None = None,
    imported_only: bool = False,
) -> ImagesReport:
    """Check new downloads (or, with recheck, every image of the posts this stage decides on) and promote posts.

    `pool`: worker processes from `image_pool.worker_pool`, started before any progress-bar thread.
    `imported_only`: only the images of imported releases (what `import --images` runs right after).

    Nothing is written until every image is checked, then all in one transaction: an interrupted run
    leaves the store as it was. One run per workspace at a time (`stage_lock`).
    """
    with stage_lock(store.path.parent, "images"):
        return _process_images(store, images_dir, options, progress, recheck, pool, imported_only)


def _process_images(
    store: Store,
    images_dir: Path,
    options: ImageOptions,
    progress: Callable[[int], None] | None,
    recheck: bool,
    pool: ProcessPoolExecutor | None,
    imported_only: bool,
) -> ImagesReport:
    report = ImagesReport()
    rows = store.query(
        f"""SELECT i.image_id, i.post_id, i.position, i.file_name, i.meta, p.rowid AS post_order,
                   COALESCE(p.posted_at, '') AS posted_at
            {_to_check(recheck, imported_only)} ORDER BY p.rowid, i.position"""
    )
    report.images_of_uncleaned_posts = store.scalar(
        "SELECT COUNT(*) FROM images i JOIN posts p ON p.post_id = i.post_id"
        " WHERE i.status = 'downloaded' AND p.status = 'crawled'"
    )
    jobs = [(row["image_id"], _image_path(images_dir, row["file_name"])) for row in rows]
    checks, report.workers = check_images(jobs, options, progress, pool)
    report.checked = len(checks)
    by_id = {check.image_id: check for check in checks}
    duplicate_of = _dedupe(store, rows, by_id, options)

    now = utc_now()
    with store.transaction() as connection:
        for row in rows:
            check = by_id[row["image_id"]]
            meta = json.loads(row["meta"] or "{}")
            meta["check"] = {**check.meta(), "checked_at": now}
            if row["image_id"] in duplicate_of:
                meta["check"]["duplicate_of"], meta["check"]["distance"] = duplicate_of[row["image_id"]]
            status = "dropped" if check.drop_reason else "kept"
            connection.execute(
                "UPDATE images SET status = ?, drop_reason = ?, sha256 = ?, phash = ?, width = ?, height = ?, meta = ?"
                " WHERE image_id = ?",
                (status, check.drop_reason, check.sha256, check.phash, check.width, check.height,
                 json.dumps(meta, ensure_ascii=False, sort_keys=True), check.image_id),
            )
            if check.drop_reason:
                report.dropped[check.drop_reason] = report.dropped.get(check.drop_reason, 0) + 1
                report.dropped_files.append((row["file_name"] or "", check.drop_reason, check.detail))
            else:
                report.kept += 1
            fault_point("images.update")
        if not imported_only:
            _promote_posts(store, report, recheck)
        if report.checked or report.posts_ready or report.posts_dropped:
            store.log_event(
                "images", "run", f"checked {report.checked} images, kept {report.kept}",
                checked=report.checked, kept=report.kept, dropped=report.dropped, ready=len(report.posts_ready),
                posts_dropped={reason: len(ids) for reason, ids in report.posts_dropped.items()},
            )
    return report


def _image_path(images_dir: Path, file_name: str | None) -> Path:
    if not file_name or Path(file_name).name != file_name:
        # No file recorded, or a name that would leave images/: checked as a missing file.
        return images_dir / f"(no usable file name: {file_name!r})"
    return images_dir / file_name


def _dedupe(
    store: Store, rows: Sequence[Any], checks: dict[int, ImageCheck], options: ImageOptions
) -> dict[int, tuple[str | None, int]]:
    """Mark near-duplicates dropped on their checks; returns image_id -> (file it repeats, distance)."""
    candidates = [
        _Candidate(row["image_id"], row["post_id"], row["position"], row["file_name"], check.phash, check.chroma,
                   (check.width or 0) * (check.height or 0), row["posted_at"], row["post_order"], False)
        for row in rows
        if (check := checks[row["image_id"]]).drop_reason is None and check.phash is not None
    ]
    for row in store.query(
        """SELECT i.image_id, i.post_id, i.position, i.file_name, i.phash, i.width, i.height, i.meta,
                  p.rowid AS post_order, COALESCE(p.posted_at, '') AS posted_at
           FROM images i JOIN posts p ON p.post_id = i.post_id
           WHERE i.status = 'kept' AND i.phash IS NOT NULL AND p.status != 'dropped'"""
    ):
        if row["image_id"] in checks:  # being re-checked: it competes as a new image
            continue
        chroma = json.loads(row["meta"] or "{}").get("check", {}).get("chroma")
        candidates.append(_Candidate(row["image_id"], row["post_id"], row["position"], row["file_name"], row["phash"],
                                     tuple(chroma) if chroma else None, (row["width"] or 0) * (row["height"] or 0),
                                     row["posted_at"], row["post_order"], True))
    if len(candidates) < 2:
        return {}
    pairs = near_duplicate_pairs(hashes_to_array([c.phash for c in candidates]), options.hamming_threshold)
    pairs = pairs[[similar_colour(candidates[i].chroma, candidates[j].chroma, options.colour_tolerance)
                   for i, j in pairs[:, :2].tolist()]] if len(pairs) else pairs
    duplicate_of: dict[int, tuple[str | None, int]] = {}
    for group in clusters(len(candidates), pairs):
        members = [candidates[index] for index in group]
        # Keep what an earlier run kept, else the largest copy, else the earliest post's (a re-posted
        # picture comes after its original); unknown dates sort last.
        keeper = min(members, key=lambda c: (not c.already_kept, -c.area, c.posted_at or "~", c.post_order, c.position))
        for member in members:
            if member is keeper or member.already_kept:
                continue
            check = checks[member.image_id]
            check.drop_reason = "duplicate_in_post" if member.post_id == keeper.post_id else "duplicate_across_posts"
            distance = hamming_distance(member.phash, keeper.phash)
            check.detail = f"same picture as {keeper.file_name} (pHash distance {distance})"
            duplicate_of[member.image_id] = (keeper.file_name, distance)
    return duplicate_of


def similar_colour(a: tuple[float, float] | None, b: tuple[float, float] | None, tolerance: float) -> bool:
    """Same average colour balance within tolerance; unknown colour (an older record) never vetoes."""
    if a is None or b is None:
        return True
    return max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= tolerance


def _promote_posts(store: Store, report: ImagesReport, recheck: bool) -> None:
    rows = store.query(
        f"""SELECT p.post_id, p.status, p.drop_reason,
                   COALESCE(SUM(i.status = 'kept'), 0) AS kept,
                   COALESCE(SUM(i.status IN ('pending', 'downloaded')), 0) AS waiting,
                   COUNT(i.image_id) AS images
            FROM posts p LEFT JOIN images i ON i.post_id = p.post_id
            WHERE {_POSTS_RECHECK if recheck else "p.status = 'cleaned'"} GROUP BY p.post_id ORDER BY p.rowid"""
    )
    for row in rows:
        if row["waiting"] and not (row["status"] == "ready" and row["kept"]):
            if row["status"] != "cleaned":
                store.set_status(row["post_id"], "cleaned")
            report.posts_waiting.append(row["post_id"])
        elif row["kept"]:
            if row["status"] != "ready":
                store.set_status(row["post_id"], "ready")
                report.posts_ready.append(row["post_id"])
        else:
            reason = "no_usable_image" if row["images"] else "no_image"
            if (row["status"], row["drop_reason"]) != ("dropped", reason):
                store.set_status(row["post_id"], "dropped", reason)
                report.posts_dropped.setdefault(reason, []).append(row["post_id"])


def check_imported_images(
    store: Store, images_dir: Path, settings: Settings, progress: Callable[[int], None] | None = None
) -> ImagesReport:
    """The images stage on the images `import --images` just stored (and any an interrupted import left)."""
    return process_images(store, images_dir, ImageOptions.from_settings(settings), progress=progress,
                          imported_only=True)
