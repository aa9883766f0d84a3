"""Decoding images on every core: a process pool, started before anything else runs threads.

Starting worker processes by `fork` costs milliseconds; `spawn` re-imports Pillow, NumPy, imagehash
and SciPy's FFT in every worker (0.5-1 s here, a fifth of the time for a few thousand images). Fork is
only safe while the parent has a single thread, so the pool forks its workers at once, when it is
created: the CLI creates it before its progress bar starts a refresh thread. With other threads
alive (or off Linux) it spawns instead. The workers never touch the parent's SQLite connection.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

from cmner_build.clean.image_check import ImageCheck, check_image
from cmner_build.clean.settings import ImageOptions

# Below this many images per worker a process pool costs more than it saves.
MIN_IMAGES_PER_WORKER = 32


def start_method() -> str:
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _warm() -> None:
    """Import what hashing needs (imagehash imports SciPy's FFT on first use) before forking."""
    import imagehash
    from PIL import Image

    imagehash.phash(Image.new("L", (32, 32)))


def _started(_: int) -> bool:
    return True


@contextmanager
def worker_pool(options: ImageOptions, job_count: int) -> Iterator[ProcessPoolExecutor | None]:
    """A started pool of worker processes, or None when one process is enough for job_count images."""
    workers = min(options.worker_count(), job_count // MIN_IMAGES_PER_WORKER)
    if workers <= 1:
        yield None
        return
    method = start_method()
    if method == "fork":
        _warm()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        list(pool.map(_started, range(workers)))  # every worker exists from here on
        yield pool


def check_images(
    jobs: Sequence[tuple[int, Path]],
    options: ImageOptions,
    progress: Callable[[int], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> tuple[list[ImageCheck], int]:
    """Check (image_id, path) jobs, in job order. Returns the checks and the number of processes used.

    Without a pool, one is made for this call when the jobs are many enough.
    """
    if pool is None and len(jobs) >= 2 * MIN_IMAGES_PER_WORKER and options.worker_count() > 1:
        with worker_pool(options, len(jobs)) as own_pool:
            return check_images(jobs, options, progress, own_pool)
    run_one = partial(_check_job, options=options)
    results: list[ImageCheck] = []
    checks = map(run_one, jobs) if pool is None else pool.map(run_one, jobs, chunksize=16)
    for check in checks:
        results.append(check)
        if progress is not None:
            progress(1)
    return results, 1 if pool is None else pool._max_workers  # noqa: SLF001 - no public accessor


def _check_job(job: tuple[int, Path], options: ImageOptions) -> ImageCheck:
    return check_image(job[0], job[1], options)
