"""Y-Net: a U-Net on the complex spectrogram that returns complex-mask logits, FiLM-ed at the bottleneck
by visual features of the target singer (mouth video or face landmarks), or audio-only.

Inputs, channels last: ``spectrogram`` (B, 256, 256, 2), the real and imaginary parts of every second
bin of the mixture STFT (bins x frames); ``video`` (B, 100, 96, 96, 3) normalised mouth crops, or
``landmarks`` (B, 100, 68, 2) pixel coordinates. Output: ``mask`` (B, 256, 256, 2) logits.
Batch norms use PyTorch's epsilon (1e-5), so the original's weights load unchanged.
"""

from __future__ import annotations

import keras
from keras import layers

from .config import ModelConfig
from .film import TimeFiLM
from .graph_net import build_graph_net
from .resample import BilinearUpsample
from .video_net import build_video_net

BN = {"momentum": 0.9, "epsilon": 1e-5}
POOL = {"s": (2, 2), "t": (2, 1)}  # "t" pools frequency only (axis order: bins, frames)


def _encoder(x, channels, pools):
    skips = []
    for i, (width, pool) in enumerate(zip(channels, pools)):
        x = layers.Conv2D(width, 5, padding="same", use_bias=False, name=f"encoder{i}_conv")(x)
        x = layers.BatchNormalization(**BN, name=f"encoder{i}_bn")(x)
        x = layers.LeakyReLU(0.1, name=f"encoder{i}_act")(x)
        skips.append(x)
        x = layers.MaxPooling2D(POOL[pool], name=f"encoder{i}_pool")(x)
    return x, skips


def _up_block(x, width, up, name):
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(**BN, name=f"{name}_bn")(x)
    x = layers.ReLU(name=f"{name}_act")(x)
    return BilinearUpsample(POOL[up], name=f"{name}_up")(x) if up else x


def _decoder(x, skips, channels, pools):
    n = len(channels)
    x = _up_block(x, channels[-1], pools[-1], "decoder0")
    for k in range(n - 1, 0, -1):
        x = layers.Concatenate(name=f"decoder{n - k}_concat")([x, skips[k]])
        x = _up_block(x, channels[k - 1], pools[k - 1], f"decoder{n - k}")
    x = layers.Concatenate(name=f"decoder{n}_concat")([x, skips[0]])
    x = _up_block(x, channels[0], None, f"decoder{n}")
    return layers.Conv2D(2, 1, name="mask", dtype="float32")(x)  # float32 logits under mixed precision


def visual_input(cfg: ModelConfig):
    """The Y-Net's visual input for ``cfg.visual``: mouth crops or landmarks, None for the audio-only network."""
    if cfg.visual == "video":
        return keras.Input((cfg.video_frames, cfg.mouth_size, cfg.mouth_size, 3), name="video")
    if cfg.visual == "landmarks":
        return keras.Input((cfg.video_frames, 68, 2), name="landmarks")
    return None


def build_ynet(cfg: ModelConfig) -> keras.Model:
    """The Y-Net ``cfg`` describes (inputs and output as in the module's docstring). With a visual input, the
    front end's features give one (gamma, beta) per bottleneck channel and time step, which FiLM the encoder's
    output."""
    channels, pools = cfg.ynet_channels, cfg.ynet_pools
    spec = keras.Input((256, 256, 2), name="spectrogram")
    x, skips = _encoder(spec, channels, pools)
    visual = visual_input(cfg)
    inputs = [spec]
    if visual is not None:
        net = build_video_net(cfg) if cfg.visual == "video" else build_graph_net(cfg)
        features = net(visual)  # (B, 16, features)
        gamma = layers.Dense(channels[-1], name="film_scale")(features)
        beta = layers.Dense(channels[-1], name="film_shift")(features)
        x = TimeFiLM(name="film")(x, gamma, beta)
        inputs.append(visual)
    mask = _decoder(x, skips, channels, pools)
    name = {"video": "ynet_m", "landmarks": "ynet_g", "none": "ynet_audio_only"}[cfg.visual]
    return keras.Model(inputs if len(inputs) > 1 else spec, mask, name=name)
