"""Y-Net-m's visual front end: the MC3-18 video ResNet (3D stem and first stage, then spatial-only
(1x3x3) stages), truncated after its third stage, averaged over space and pooled to 16 time steps.

Input (B, T, 96, 96, 3) normalised mouth crops -> (B, 16, video_widths[2]: 256 as the original). No temporal
down-sampling anywhere.
"""

from __future__ import annotations

import keras
from keras import layers

from .config import ModelConfig
from .resample import TimeResample

BN = {"momentum": 0.9, "epsilon": 1e-5}


def _conv_bn(x, width, kernel, stride, name, relu=True):
    pad = tuple(k // 2 for k in kernel)
    x = layers.ZeroPadding3D(pad, name=f"{name}_pad")(x) if any(pad) else x
    x = layers.Conv3D(width, kernel, strides=stride, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(**BN, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _block(x, width, kernel, stride, name):
    shortcut = x
    y = _conv_bn(x, width, kernel, stride, f"{name}_conv1")
    y = _conv_bn(y, width, kernel, 1, f"{name}_conv2", relu=False)
    if stride != 1 or x.shape[-1] != width:
        shortcut = layers.Conv3D(width, 1, strides=stride, use_bias=False, name=f"{name}_down_conv")(x)
        shortcut = layers.BatchNormalization(**BN, name=f"{name}_down_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_video_net(cfg: ModelConfig) -> keras.Model:
    """The video ResNet as a model of its own: (B, video_frames, mouth_size, mouth_size, 3) mouth crops ->
    (B, visual_steps, video_widths[2]); ``video_stride`` strides the stem in space only."""
    video = keras.Input((cfg.video_frames, cfg.mouth_size, cfg.mouth_size, 3), name="video_net_input")
    first, second, third = cfg.video_widths
    x = _conv_bn(video, first, (3, 7, 7), (1, cfg.video_stride, cfg.video_stride), "stem")
    for i in range(2):
        x = _block(x, first, (3, 3, 3), 1, f"layer1_{i}")
    for stage, width in ((2, second), (3, third)):
        x = _block(x, width, (1, 3, 3), (1, 2, 2), f"layer{stage}_0")
        x = _block(x, width, (1, 3, 3), 1, f"layer{stage}_1")
    x = SpaceMean(name="space_mean")(x)
    return keras.Model(video, TimeResample(cfg.visual_steps, "average", name="time_pool")(x), name="video_net")


@keras.saving.register_keras_serializable(package="cunet")
class SpaceMean(keras.layers.Layer):
    """(B, T, H, W, C) -> (B, T, C): the mean over spatial positions."""

    def call(self, x):
        return keras.ops.mean(x, axis=(2, 3))

    def compute_output_shape(self, shape):
        return (shape[0], shape[1], shape[4])
