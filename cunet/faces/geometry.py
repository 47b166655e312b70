"""Planar geometry of the front end: affine warps of images and points, and the least-squares similarity.

An affine map is a (2, 3) matrix ``A`` taking a point (x, y) to ``A @ (x, y, 1)``; x runs along columns and y
down rows, in pixels with pixel centres at integers.
"""

from __future__ import annotations

import numpy as np


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points through the (2, 3) affine ``matrix``."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -(linear @ matrix[:, 2])[:, None]], axis=1)


def warp(image: np.ndarray, to_source: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` (H, W, C) onto a (rows, columns) grid by bilinear interpolation.

    Args:
        image: the source image, any dtype.
        to_source: (2, 3) affine map from an output pixel (x, y) to where it lies in ``image``.
        shape: the output's (rows, columns).

    Returns:
        float32 (rows, columns, C); what falls outside ``image`` takes its nearest edge pixel.
    """
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    src = apply(to_source.astype(np.float32), np.stack([xx, yy], axis=-1))
    h, w = image.shape[:2]
    x = np.clip(src[..., 0], 0, w - 1)
    y = np.clip(src[..., 1], 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int32), w - 2) if w > 1 else np.zeros_like(x, np.int32)
    y0 = np.minimum(np.floor(y).astype(np.int32), h - 2) if h > 1 else np.zeros_like(y, np.int32)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    img = image.astype(np.float32, copy=False)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity (rotation, uniform scale, translation) taking the (N, 2) ``source`` points
    closest to ``target`` in the least-squares sense (Umeyama's solution, no reflection)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    ms, mt = source.mean(0), target.mean(0)
    s, t = source - ms, target - mt
    cov = t.T @ s / len(source)
    u, d, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / max((s**2).sum() / len(source), 1e-12)
    linear = scale * rotation
    return np.concatenate([linear, (mt - linear @ ms)[:, None]], axis=1)


def rotation_matrix(angle: float) -> np.ndarray:
    """The (2, 2) rotation by ``angle`` radians (counter-clockwise on screen for y pointing down is negative)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])
