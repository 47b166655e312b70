"""Inference only: a transposed convolution with few output channels, computed as a sub-pixel convolution.

A stride-2 transposed convolution gives each of its four output phases (even or odd row, even or odd column)
from a 3 x 3 neighbourhood of its input. So it equals one ordinary convolution at the input's resolution
with four times the output channels, whose channels are then interleaved into the doubled grid (a pixel
shuffle). Both compute the same function; on a CPU, oneDNN runs the transposed form slowly when it has few
output channels, as the convolution that ends a U-Net's decoder (one channel: the mask) does. Measured
with bfloat16 compute on 2 cores of an AMD EPYC (Zen 4), 32 patches of 256 x 64 x 32 in: 41 ms transposed
against 17 ms sub-pixel for 1 output channel, 48 against 29 ms for 8; from 16 channels on, oneDNN's
transposed convolution is as fast or faster, so only layers below that are rewritten.
"""

from __future__ import annotations

import keras
import numpy as np

KERNEL, STRIDE = 5, 2  # the transposed convolutions cunet's U-Nets are built from (unet.py)
FEW_CHANNELS = 16  # output channels below which the sub-pixel form was measured faster (see above)


def rewritable(layer) -> bool:
    """Whether ``layer`` is a transposed convolution this module rewrites: 5 x 5, stride 2, "same"
    padding, channels last, no dilation, no output padding, no activation, fewer than 16 filters."""
    if type(layer).__name__ != "Conv2DTranspose":
        return False
    config = layer.get_config()
    return (
        tuple(config["kernel_size"]) == (KERNEL, KERNEL)
        and tuple(config["strides"]) == (STRIDE, STRIDE)
        and config["padding"] == "same"
        and config["data_format"] == "channels_last"
        and tuple(config["dilation_rate"]) == (1, 1)
        and config.get("output_padding") is None
        and config["activation"] == "linear"
        and config["filters"] < FEW_CHANNELS
    )


def sub_pixel_kernel(kernel: np.ndarray) -> np.ndarray:
    """A transposed convolution's kernel as its sub-pixel convolution's.

    Args:
        kernel: (5, 5, out, in), a Keras ``Conv2DTranspose`` kernel (stride 2, "same" padding).

    Returns:
        (3, 3, in, 4 * out): output channel ``(2 * a + b) * out + c`` is channel ``c`` of the output's rows
        ``2 * i + a`` and columns ``2 * j + b``.

    The transposed convolution's output ``y[o] = sum_i x[i] * w[o - 2 * i + pad]`` (per axis), ``pad`` being
    the padding before of the convolution it transposes, (5 - 2) // 2 = 1. Phase ``a`` of output row ``q``
    then takes input row ``q + t - 1`` (``t`` = 0, 1, 2: a 3-tap "same" convolution) with kernel tap
    ``a + pad - 2 * (t - 1)``, where that tap exists.
    """
    k, _, c_out, c_in = kernel.shape
    pad = (k - STRIDE) // 2
    taps = [[a + pad - STRIDE * (t - 1) for t in range(3)] for a in range(STRIDE)]  # phase -> tap of each t
    out = np.zeros((3, 3, c_in, STRIDE, STRIDE, c_out), kernel.dtype)
    for a in range(STRIDE):
        for b in range(STRIDE):
            for t, i in enumerate(taps[a]):
                for u, j in enumerate(taps[b]):
                    if 0 <= i < k and 0 <= j < k:
                        out[t, u, :, a, b, :] = kernel[i, j].T
    return out.reshape(3, 3, c_in, STRIDE * STRIDE * c_out)


class SubPixelDeconv(keras.layers.Layer):
    """What a rewritten transposed convolution becomes (see the module's text): a 3 x 3 convolution with
    ``4 * filters`` outputs and a bias, then a pixel shuffle onto the grid twice the input's size."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        width = STRIDE * STRIDE * self.filters
        self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], width), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(width,), initializer="zeros", name="bias")

    def call(self, x):
        height, width = x.shape[1], x.shape[2]
        y = keras.ops.conv(x, self.kernel, padding="same") + self.bias
        y = keras.ops.reshape(y, (-1, height, width, STRIDE, STRIDE, self.filters))
        y = keras.ops.transpose(y, (0, 1, 3, 2, 4, 5))  # (rows, row phase, columns, column phase)
        return keras.ops.reshape(y, (-1, STRIDE * height, STRIDE * width, self.filters))

    def compute_output_shape(self, input_shape):
        rows, columns = (None if n is None else STRIDE * n for n in input_shape[1:3])
        return (input_shape[0], rows, columns, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def sub_pixel_weights(kernel: np.ndarray, bias: np.ndarray) -> list[np.ndarray]:
    """The weights of the :class:`SubPixelDeconv` that replaces a transposed convolution of ``kernel`` and
    ``bias`` (those of the layer, with a batch norm folded in where there was one)."""
    return [sub_pixel_kernel(np.asarray(kernel, np.float32)), np.tile(np.asarray(bias, np.float32), STRIDE * STRIDE)]
