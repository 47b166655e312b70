"""Inference only: batch normalisation folded into the convolution before it, and the transposed
convolutions with few output channels computed as sub-pixel convolutions (subpixel.py).

At inference a batch norm is a fixed scale and shift per channel, ``gamma * (x - mean) / sqrt(var + eps) +
beta``; after a convolution it can be carried by that convolution's kernel and bias instead, which is the same
function with one pass less over every activation (about 9 % of a C-U-Net's time on a CPU, measured with
bench/separate.py's model). The folded model is for separation only: it cannot train (the statistics are gone).
Both rewrites are made in one copy of the model.
"""

from __future__ import annotations

import keras
import numpy as np

from .subpixel import SubPixelDeconv, rewritable, sub_pixel_weights

FOLDABLE = ("Conv2D", "Conv2DTranspose")


def _folded_pairs(model) -> dict[str, str]:
    """{batch norm layer: the convolution feeding it} for each batch norm whose input is a convolution's
    output that nothing else reads (folding would change what the others see)."""
    readers: dict[str, int] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation.name
                readers[source] = readers.get(source, 0) + 1
    pairs = {}
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization" or len(layer._inbound_nodes) != 1:
            continue
        inputs = layer._inbound_nodes[0].input_tensors
        conv = inputs[0]._keras_history.operation if len(inputs) == 1 else None
        if (
            conv is not None
            and type(conv).__name__ in FOLDABLE
            and readers.get(conv.name) == 1
            and len(conv._inbound_nodes) == 1
            and layer.axis in (-1, [-1], [3], 3)
        ):
            pairs[layer.name] = conv.name
    return pairs


def inference_model(model):
    """``model`` as separation runs it (see the module's text): every batch norm that follows a convolution
    folded into it, every transposed convolution :func:`~cunet.separation.subpixel.rewritable` made a
    :class:`~cunet.separation.subpixel.SubPixelDeconv`; ``model`` itself when neither applies. Outputs equal
    the original's in inference to float32 rounding."""
    pairs = _folded_pairs(model)
    sub_pixel = {layer.name for layer in model.layers if rewritable(layer)}
    if not pairs and not sub_pixel:
        return model
    convs = {conv: bn for bn, conv in pairs.items()}
    layers = {layer.name: layer for layer in model.layers}

    def rebuild(layer):
        if layer.name in pairs:
            return PassThrough(name=layer.name, dtype=layer.dtype_policy.name)
        if layer.name in sub_pixel:
            return SubPixelDeconv(layer.filters, name=layer.name, dtype=layer.dtype_policy.name)
        config = layer.get_config()
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=rebuild)
    for layer in clone.layers:
        original = layers[layer.name]
        if layer.name in pairs:
            continue
        weights = _folded(original, layers[convs[layer.name]]) if layer.name in convs else original.get_weights()
        if layer.name in sub_pixel:
            kernel, *bias = weights
            weights = sub_pixel_weights(kernel, bias[0] if bias else np.zeros(kernel.shape[2], np.float32))
        layer.set_weights(weights)
    return clone


def _folded(conv, bn) -> list[np.ndarray]:
    """The kernel and bias of ``conv`` with the batch norm ``bn`` after it folded in."""
    kernel = np.asarray(conv.kernel)
    bias = (
        np.asarray(conv.bias) if conv.use_bias else np.zeros(kernel.shape[-2 if _transposed(conv) else -1], np.float32)
    )
    gamma = np.asarray(bn.gamma) if bn.scale else 1.0
    beta = np.asarray(bn.beta) if bn.center else 0.0
    scale = gamma / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
    # the output channels: a Conv2D kernel's last axis, a Conv2DTranspose kernel's third
    shape = (1, 1, -1, 1) if _transposed(conv) else (1, 1, 1, -1)
    return [
        (kernel * scale.reshape(shape)).astype(np.float32),
        ((bias - np.asarray(bn.moving_mean)) * scale + beta).astype(np.float32),
    ]


def _transposed(layer) -> bool:
    return type(layer).__name__ == "Conv2DTranspose"


class PassThrough(keras.layers.Layer):
    """What a folded batch norm becomes: its input, unchanged (the convolution before it does its work)."""

    def call(self, x, training=None, mask=None):
        return x
