"""Feature-wise linear modulation (Perez et al. 2018): y = gamma * x + beta."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cunet")
class FiLM(keras.layers.Layer):
    """Modulate a (B, H, W, C) map with a slice of a conditioning vector.

    ``gammas`` and ``betas`` are (B, 1, N). The block takes ``size`` entries from ``start``: size 1
    scales every channel alike (C-U-Net "simple"), size C gives each channel its own pair ("complex").
    The scale is ``gamma_offset + gamma``: with offset 1 the layer starts as the identity (the FiLM
    paper's choice) instead of multiplying every feature by a number near 0 (the original C-U-Net's).
    Files saved without the field load with offset 0, the behaviour they were trained with.
    """

    def __init__(self, start: int, size: int, gamma_offset: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.start, self.size, self.gamma_offset = start, size, float(gamma_offset)

    def call(self, x, gammas, betas):
        gamma = (
            ops.reshape(gammas[:, 0, self.start : self.start + self.size], (-1, 1, 1, self.size)) + self.gamma_offset
        )
        beta = ops.reshape(betas[:, 0, self.start : self.start + self.size], (-1, 1, 1, self.size))
        return x * ops.cast(gamma, x.dtype) + ops.cast(beta, x.dtype)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "size": self.size, "gamma_offset": self.gamma_offset}


@keras.saving.register_keras_serializable(package="cunet")
class TimeFiLM(keras.layers.Layer):
    """Y-Net's fusion: a (B, F, T, C) map times gamma plus beta, both (B, T, C), constant over frequency."""

    def call(self, x, gamma, beta):
        return x * ops.cast(gamma[:, None], x.dtype) + ops.cast(beta[:, None], x.dtype)
