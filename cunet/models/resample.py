"""Fixed resampling layers the Y-Net needs: align-corners bilinear upsampling and adaptive pooling in time.

Both are linear maps with constant coefficients, computed once in NumPy and applied with keras.ops, so
they match PyTorch's ``Upsample(align_corners=True)``, ``adaptive_avg_pool1d`` and nearest ``interpolate``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def align_corners_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation weights with the end samples aligned."""
    m = np.zeros((n_out, n_in), np.float32)
    if n_in == 1 or n_out == 1:
        m[:, 0] = 1.0
        return m
    pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = pos - lo
    m[np.arange(n_out), lo] = 1 - frac
    m[np.arange(n_out), lo + 1] += frac
    return m


def adaptive_average_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of adaptive average pooling: bin i spans [floor(i n/m), ceil((i+1) n/m))."""
    m = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def nearest_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) selection of nearest interpolation (source index floor(i * n_in / n_out))."""
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), (np.arange(n_out) * n_in) // n_out] = 1.0
    return m


@keras.saving.register_keras_serializable(package="cunet")
class BilinearUpsample(keras.layers.Layer):
    """Upsample (B, H, W, C) by integer factors with align-corners bilinear interpolation."""

    def __init__(self, factors=(2, 2), **kwargs):
        super().__init__(**kwargs)
        self.factors = tuple(int(f) for f in factors)

    def call(self, x):
        h, w = x.shape[1], x.shape[2]
        if self.factors[0] != 1:
            mh = ops.convert_to_tensor(align_corners_matrix(h, h * self.factors[0]), dtype=x.dtype)
            x = ops.einsum("oh,bhwc->bowc", mh, x)
        if self.factors[1] != 1:
            mw = ops.convert_to_tensor(align_corners_matrix(w, w * self.factors[1]), dtype=x.dtype)
            x = ops.einsum("ow,bhwc->bhoc", mw, x)
        return x

    def compute_output_shape(self, shape):
        return (shape[0], shape[1] * self.factors[0], shape[2] * self.factors[1], shape[3])

    def get_config(self):
        return {**super().get_config(), "factors": self.factors}


@keras.saving.register_keras_serializable(package="cunet")
class TimeResample(keras.layers.Layer):
    """(B, T, C) -> (B, steps, C) by adaptive average pooling ("average") or nearest interpolation."""

    def __init__(self, steps: int, mode: str = "average", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("average", "nearest"):
            raise ValueError(f"mode must be 'average' or 'nearest', got {mode!r}")
        self.steps, self.mode = steps, mode

    def call(self, x):
        make = adaptive_average_matrix if self.mode == "average" else nearest_matrix
        m = ops.convert_to_tensor(make(x.shape[1], self.steps), dtype=x.dtype)
        return ops.einsum("st,btc->bsc", m, x)

    def compute_output_shape(self, shape):
        return (shape[0], self.steps, shape[2])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "mode": self.mode}
