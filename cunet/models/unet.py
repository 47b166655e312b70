"""The Jansson U-Net of C-U-Net, dedicated (one model per source) or conditioned (FiLM in the encoder).

Input: a magnitude patch (bins, frames, 1); output: that input times a sigmoid mask.
"""

from __future__ import annotations

import keras
from keras import layers

from .config import ModelConfig
from .control import cnn_control, dense_control, init
from .film import FiLM


def encoder_widths(cfg: ModelConfig) -> list[int]:
    """The channels of each encoder block: ``first_filters``, doubled from one block to the next."""
    return [cfg.first_filters * 2**i for i in range(cfg.n_layers)]


def n_film_params(cfg: ModelConfig) -> int:
    """6 scalar pairs (simple) or one pair per encoder channel, 1008 for the default widths (complex)."""
    return cfg.n_layers if cfg.film == "simple" else sum(encoder_widths(cfg))


def _encoder(x, cfg: ModelConfig, film=None):
    skips, offset = [], 0
    for i, width in enumerate(encoder_widths(cfg)):
        x = layers.Conv2D(width, 5, strides=2, padding="same", kernel_initializer=init(), name=f"enc{i}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"enc{i}_bn")(x)
        if film is not None:  # after batch norm, before the activation, in every encoder block
            size = 1 if cfg.film == "simple" else width
            x = FiLM(offset, size, cfg.film_gamma_offset, name=f"enc{i}_film")(x, *film)
            offset += size
        x = layers.LeakyReLU(0.2, name=f"enc{i}_act")(x)
        skips.append(x)
    return skips


def _decoder(skips, cfg: ModelConfig):
    n = len(skips)
    x = skips[-1]
    for i in range(n):
        last = i == n - 1
        if i > 0:
            x = layers.Concatenate(name=f"dec{i}_concat")([x, skips[n - 1 - i]])
        width = 1 if last else skips[n - 1 - i].shape[-1] // 2
        x = layers.Conv2DTranspose(
            width, 5, strides=2, padding="same", kernel_initializer=init(), name=f"dec{i}_deconv"
        )(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"dec{i}_bn")(x)
        if 0 < i < n - 2:
            x = layers.Dropout(0.5, name=f"dec{i}_dropout")(x)
        # The mask and the estimate stay float32 under a mixed-precision policy, for a stable loss.
        x = layers.Activation(
            "sigmoid" if last else "relu", name="mask" if last else f"dec{i}_act", dtype="float32" if last else None
        )(x)
    return x


def build_unet(cfg: ModelConfig) -> keras.Model:
    """The dedicated U-Net: one model per target source."""
    mix = keras.Input((cfg.n_bins, cfg.n_frames, 1), name="magnitude")
    mask = _decoder(_encoder(mix, cfg), cfg)
    return keras.Model(mix, layers.Multiply(name="estimate", dtype="float32")([mix, mask]), name="unet")


def build_cunet(cfg: ModelConfig) -> keras.Model:
    """One U-Net for every source: the condition vector, through the control network, sets FiLM."""
    mix = keras.Input((cfg.n_bins, cfg.n_frames, 1), name="magnitude")
    z = keras.Input(cfg.condition_shape, name="condition")
    control = dense_control if cfg.control == "dense" else cnn_control
    film = control(z, n_film_params(cfg), cfg.film, cfg.control_dropout)
    mask = _decoder(_encoder(mix, cfg, film), cfg)
    return keras.Model(
        [mix, z], layers.Multiply(name="estimate", dtype="float32")([mix, mask]), name=f"cunet_{cfg.film}_{cfg.control}"
    )
