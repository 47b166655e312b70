"""The C-U-Net condition generator: a condition vector z becomes the FiLM parameters (gammas, betas)."""

from __future__ import annotations

import keras
from keras import layers

# (units or filters per layer) for each FiLM kind, as the original configures them.
DENSE_UNITS = {"simple": (16, 64, 256), "complex": (16, 256, 1024)}
CNN_FILTERS = {"simple": (16, 32, 64), "complex": (32, 64, 256)}


def init():
    """A new kernel initialiser for a U-Net or C-U-Net layer: normal with standard deviation 0.02, as the
    original's."""
    return keras.initializers.RandomNormal(stddev=0.02)


def dense_control(z, n_params: int, film: str, dropout: float = 0.5):
    """z (B, 1, z_dim) -> gammas, betas (B, 1, n_params). No dropout/BN after the first layer."""
    x = z
    for i, units in enumerate(DENSE_UNITS[film]):
        x = layers.Dense(units, activation="relu", kernel_initializer=init(), name=f"control_dense{i}")(x)
        if i > 0:
            x = _regularise(x, i, dropout)
    return _heads(x, n_params)


def cnn_control(z, n_params: int, film: str, dropout: float = 0.5):
    """z (B, z_dim, 1) -> gammas, betas (B, 1, n_params); the last, 'valid' conv shrinks z_dim to 1."""
    x = z
    filters = CNN_FILTERS[film]
    for i, f in enumerate(filters):
        last = i == len(filters) - 1
        x = layers.Conv1D(
            f,
            z.shape[1] if last else 4,
            padding="valid" if last else "same",
            activation="relu",
            kernel_initializer=init(),
            name=f"control_conv{i}",
        )(x)
        if i > 0:
            x = _regularise(x, i, dropout)
    return _heads(x, n_params)


def _regularise(x, i: int, dropout: float):
    """Dropout (the original's 0.5; none by default in cunet), then batch norm."""
    if dropout:
        x = layers.Dropout(dropout, name=f"control_dropout{i}")(x)
    return layers.BatchNormalization(momentum=0.9, name=f"control_bn{i}")(x)


def _heads(x, n_params: int):
    gammas = layers.Dense(n_params, kernel_initializer=init(), name="gammas")(x)
    betas = layers.Dense(n_params, kernel_initializer=init(), name="betas")(x)
    return gammas, betas
