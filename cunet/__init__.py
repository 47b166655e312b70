"""cunet: conditioned source separation (C-U-Net, Y-Net) in Keras 3.

import cunet
separator = cunet.load_separator("runs/cunet-complex-cnn")
stems = separator.separate(audio, rate)          # {"bass": ..., "drums": ..., "other": ..., "vocals": ...}
cunet.separate_file("runs/cunet-complex-cnn", "song.mp3", "separated")
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["load_separator", "separate_file", "__version__"]


def __getattr__(name: str):
    # The API loads on first use: ``import cunet`` (and every stage's ``cunet.audio``) stays free of Keras.
    if name in ("load_separator", "separate_file"):
        import importlib

        return getattr(importlib.import_module("cunet.api"), name)
    raise AttributeError(f"module 'cunet' has no attribute {name!r}")
