"""The similarity warp of a face onto the reference face of the Y-Net's 96 x 128 crop.

As the original preprocessing did, five stable points (iBUG 33 below the nose, 36 and 39 the right eye's
corners, 42 and 45 the left eye's) are brought by a similarity (rotation, uniform scale, translation) as
close as they go to a reference face's; the crop is the image through that warp and the 68 landmarks go
through the same one. The reference is the average face of cunet's embedded singers (``datasets/face.py``:
eyes at row 51, 15.5 pixels either side of the centre, the nose's base at row 80), the crops the embedded
models were trained on. The warp's parameters are smoothed over time (a local quadratic fit over 7
frames), so that the crop holds still while a face does; the landmarks keep each frame's own motion (a mouth
opens and shuts within a few frames; front_end.py smooths them only over 5).
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ..singing_input import FRAME_SHAPE
from . import geometry
from .ibug import STABLE

HEIGHT, WIDTH = FRAME_SHAPE[:2]
EYE_ROW, EYE_HALF_GAP, EYE_HALF_WIDTH, NOSE_ROW = 51.0, 15.5, 6.0, 80.0
REFERENCE = np.array(
    [
        [WIDTH / 2, NOSE_ROW],  # 33
        [WIDTH / 2 - EYE_HALF_GAP - EYE_HALF_WIDTH, EYE_ROW],  # 36
        [WIDTH / 2 - EYE_HALF_GAP + EYE_HALF_WIDTH, EYE_ROW],  # 39
        [WIDTH / 2 + EYE_HALF_GAP - EYE_HALF_WIDTH, EYE_ROW],  # 42
        [WIDTH / 2 + EYE_HALF_GAP + EYE_HALF_WIDTH, EYE_ROW],  # 45
    ]
)
SMOOTH_FRAMES = 7  # the warp's smoothing window: 0.28 s at 25 fps


def warps(landmarks: np.ndarray, smooth: int = SMOOTH_FRAMES) -> np.ndarray:
    """(T, 68, 2) landmarks in the image -> (T, 2, 3) maps from the image to the crop, smoothed over time."""
    maps = np.stack([geometry.similarity(frame[list(STABLE)], REFERENCE) for frame in landmarks])
    if smooth > 2 and len(maps) >= smooth:
        # a local quadratic fit (Savitzky-Golay) removes jitter but follows a face that moves, speeds up or
        # turns, up to the first and last frames; a similarity's 2 x 2 part is [[a, -b], [b, a]], which a
        # linear filter of a, b and the shift keeps a similarity
        maps = scipy.signal.savgol_filter(maps, smooth, 2, axis=0, mode="interp")
    return maps


def aligned(image: np.ndarray, to_crop: np.ndarray) -> np.ndarray:
    """The (128, 96, 3) uint8 crop of ``image`` through the image-to-crop map ``to_crop``."""
    crop = geometry.warp(image, geometry.invert(to_crop), (HEIGHT, WIDTH))
    return np.clip(np.rint(crop), 0, 255).astype(np.uint8)


def crop_landmarks(landmarks: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """(T, 68, 2) image landmarks through each frame's map -> int16 crop coordinates, rounded."""
    points = np.einsum("tij,tkj->tki", maps[:, :, :2], landmarks) + maps[:, None, :, 2]
    return np.rint(points).astype(np.int16)
