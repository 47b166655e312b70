"""Model builders: every model is built from a :class:`ModelConfig` by :func:`build_model`."""

from __future__ import annotations

import keras

from .config import ModelConfig
from .unet import build_cunet, build_unet
from .ynet import build_ynet


def build_model(cfg: ModelConfig) -> keras.Model:
    return {"unet": build_unet, "cunet": build_cunet, "ynet": build_ynet}[cfg.model](cfg)


__all__ = ["ModelConfig", "build_model", "build_unet", "build_cunet", "build_ynet"]
