"""Training losses, in keras.ops so they run on every backend.

Complex spectrograms travel as real arrays with a trailing (real, imaginary) axis of size 2.
"""

from __future__ import annotations

import keras
from keras import ops

MASK_BOUND = 10.0  # Y-Net compares K*tanh of masks, K = 10


def masked_magnitude_l1(target, estimate):
    """C-U-Net / U-Net: mean absolute error between target magnitude and input x mask."""
    return ops.mean(ops.abs(target - estimate))


def complex_ratio_mask(target, total, eps: float = 1e-8):
    """The ideal complex ratio mask target / total, (..., 2) in, (..., 2) out."""
    tr, ti = target[..., 0], target[..., 1]
    sr, si = total[..., 0], total[..., 1]
    den = sr * sr + si * si + eps
    return ops.stack([(tr * sr + ti * si) / den, (ti * sr - tr * si) / den], axis=-1)


def ynet_loss(logits, target, mixture, n_sources, eps: float = 1e-8):
    """Weighted MSE between K*tanh(logits) and K*tanh(ideal complex ratio mask).

    ``mixture`` is the network input (the sum of the sources divided by ``n_sources``); ``target`` the
    target voice's spectrogram on the same bins. The weight clamp(log1p|mixture|, 1e-3, 10) favours
    loud time-frequency points, as the original.
    """
    gt = complex_ratio_mask(target, mixture * n_sources, eps)
    magnitude = ops.sqrt(ops.sum(mixture * mixture, axis=-1, keepdims=True))
    weight = ops.clip(ops.log1p(magnitude), 1e-3, 10.0)
    diff = MASK_BOUND * ops.tanh(logits) - MASK_BOUND * ops.tanh(gt)
    return ops.mean(weight * diff * diff)


@keras.saving.register_keras_serializable(package="cunet")
class YNetLoss(keras.losses.Loss):
    """``ynet_loss`` as a Keras loss: y_true packs (target, mixture) spectrograms on the last axis (4)."""

    def __init__(self, n_sources: float = 2.0, name: str = "ynet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_sources = float(n_sources)

    def call(self, y_true, y_pred):
        return ynet_loss(y_pred, y_true[..., :2], y_true[..., 2:], self.n_sources)

    def get_config(self):
        return {**super().get_config(), "n_sources": self.n_sources}
