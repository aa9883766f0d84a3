"""Device choice and mixed precision, the same code on CPU and GPU.

* `auto` picks CUDA when torch sees a GPU, else the CPU; `cuda` without a GPU is an error, not a silent
  fall-back.
* On CUDA the encoders run under bf16 autocast and TF32 matmuls are allowed; the CRFs leave autocast
  themselves (baselines/crf.py). Nothing is ever `.half()`-ed as a whole.
* On CPU autocast is off (bf16 on CPU is slow here and gains nothing), and torch uses the idle cores.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from cmner_build.errors import CmnerError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def choose_device(name: str = "auto", threads: int | None = None):
    import torch

    if name not in DEVICE_CHOICES:
        raise CmnerError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise CmnerError("--device cuda was asked for but torch sees no CUDA GPU; use --device auto or cpu")
    use_cuda = name == "cuda" or (name == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda")
    torch.set_num_threads(threads or default_threads())
    return torch.device("cpu")


def default_threads() -> int:
    """The cores that are idle now (at least one).

    More torch threads than free cores is far worse than fewer: on the shared 2-core machine with other
    jobs running, one ACN training step took 9x longer with 2 threads than with 1 (threads spin-waiting
    for each other at every LSTM and CRF step). On an idle machine this is every core.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, round(cores - busy + 0.4)))


@contextlib.contextmanager
def autocast(device) -> Iterator[None]:
    """bf16 autocast on CUDA, nothing on CPU."""
    import torch

    if device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def free_cache(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
