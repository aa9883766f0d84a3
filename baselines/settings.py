"""`[baselines]` of cmner.toml: the image encoder, the BERT and the device, each default written here once
(the commented cmner.toml that `init` writes shows the same values; a test keeps them in step)."""

from __future__ import annotations

from dataclasses import dataclass

from cmner_build.config import Settings

DEFAULT_ENCODER = "microsoft/resnet-152"  # image encoder for `features` and --images one/all
DEFAULT_BERT = "bert-base-chinese"  # the text encoder of UMT
DEFAULT_DEVICE = "auto"  # a CUDA GPU when torch sees one, else the CPU


@dataclass(frozen=True)
class BaselineSettings:
    encoder: str = DEFAULT_ENCODER
    bert: str = DEFAULT_BERT
    device: str = DEFAULT_DEVICE


def baseline_settings(settings: Settings) -> BaselineSettings:
    return BaselineSettings(
        encoder=settings.get("baselines", "encoder", str, DEFAULT_ENCODER),
        bert=settings.get("baselines", "bert", str, DEFAULT_BERT),
        device=settings.get("baselines", "device", str, DEFAULT_DEVICE),
    )
