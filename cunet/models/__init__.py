"""Model builders: every model is built from a :class:`ModelConfig` by :func:`build_model`.

The builders (and Keras with them) load on first use, so that a command can read and check its flags, whose
config lives here, in a fraction of a second. Loading a saved model needs cunet's layers registered with Keras:
:func:`register_layers` does it (``models.run.load_run`` and the checkpoints call it).
"""

from __future__ import annotations

import importlib

from .config import ModelConfig

__all__ = ["ModelConfig", "build_model", "build_unet", "build_cunet", "build_ynet", "register_layers"]
BUILDERS = {"build_unet": "unet", "build_cunet": "unet", "build_ynet": "ynet"}


def register_layers() -> None:
    """Import every module that registers a cunet layer, loss or model with Keras (safe-mode loading)."""
    for module in ("film", "graph_net", "losses", "resample", "video_net", "unet", "ynet"):
        importlib.import_module(f"{__name__}.{module}")


def build_model(cfg: ModelConfig):
    """The Keras model ``cfg`` describes (a U-Net, C-U-Net or Y-Net)."""
    return __getattr__(f"build_{cfg.model}")(cfg)


def __getattr__(name: str):
    if name in BUILDERS:
        register_layers()
        return getattr(importlib.import_module(f"{__name__}.{BUILDERS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
