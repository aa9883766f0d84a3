"""Device choice and mixed precision, the same code on CPU and GPU.

* `auto` picks CUDA when torch sees a GPU, else the CPU; `cuda` without a GPU is an error, not a silent
  fall-back.
* On CUDA the encoders run under bf16 autocast and TF32 matmuls are allowed; the CRFs leave autocast
  themselves (baselines/crf.py). Nothing is ever `.half()`-ed as a whole.
* On CPU autocast is off (bf16 on CPU is slow here and gains nothing), and torch uses every core.
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
    torch.set_num_threads(threads or os.cpu_count() or 1)
    return torch.device("cpu")


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
