"""What a Y-Net takes, whoever reads it: audio at 16384 Hz, aligned 128x96 face crops and 68 landmarks at 25 fps,
4-second examples, and the mouth region the video network sees, normalised as the original feeds it.

The Acappella reader, the singing store, the models, training and separation all take these from here, not from
a dataset reader; a trained model's own clip sizes and frame rate are on its card.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16384
FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE / FPS  # 655.36
CLIP_SAMPLES, CLIP_FRAMES = 65535, 100  # a Y-Net example: 4 s of audio (256 STFT frames) and of video
FRAME_SHAPE = (128, 96, 3)
N_LANDMARKS = 68

# The mouth region of the aligned 128x96 face crop, and the normalisation of the Kinetics-400
# pretrained video net (Y-Net-m), as the original feeds it.
MOUTH_ROWS, MOUTH_COLS, MOUTH_SIZE = slice(60, 100), slice(20, 80), 96
KINETICS_MEAN = np.array([0.43216, 0.394666, 0.37645], np.float32)
KINETICS_STD = np.array([0.22803, 0.22145, 0.216989], np.float32)


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bilinear resampling with half-pixel centres (align_corners=False)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - (pos - lo)
    m[np.arange(n_out), hi] += pos - lo
    return m


# (96, 40) and (96, 60): the resize as two matrix products, shared with the training pipeline's TF version
MOUTH_ROW_MATRIX = _bilinear_matrix(MOUTH_ROWS.stop - MOUTH_ROWS.start, MOUTH_SIZE)
MOUTH_COL_MATRIX = _bilinear_matrix(MOUTH_COLS.stop - MOUTH_COLS.start, MOUTH_SIZE)


def mouth_crops(frames: np.ndarray) -> np.ndarray:
    """(T, 128, 96, 3) uint8 faces -> (T, 96, 96, 3) float32 mouth crops, normalised for the video net."""
    mouth = frames[:, MOUTH_ROWS, MOUTH_COLS].astype(np.float32) * (1 / 255)
    mouth = np.einsum("oh,thwc->towc", MOUTH_ROW_MATRIX, mouth, optimize=True)
    mouth = np.einsum("pw,towc->topc", MOUTH_COL_MATRIX, mouth, optimize=True)
    return (mouth - KINETICS_MEAN) / KINETICS_STD
