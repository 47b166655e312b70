"""Planar geometry of the front end: affine warps of images and points, and the least-squares similarity.

An affine map is a (2, 3) matrix ``A`` taking a point (x, y) to ``A @ (x, y, 1)``; x runs along columns and y
down rows, in pixels with pixel centres at integers.
"""

from __future__ import annotations

import functools

import numpy as np


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points through the (2, 3) affine ``matrix``."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -(linear @ matrix[:, 2])[:, None]], axis=1)


@functools.lru_cache(maxsize=8)
def _grid(rows: int, cols: int) -> np.ndarray:
    """(rows * cols, 3) float32 homogeneous pixel coordinates (x, y, 1), row by row (read-only)."""
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    grid = np.stack([xx.ravel(), yy.ravel(), np.ones(rows * cols, np.float32)], axis=1)
    grid.setflags(write=False)
    return grid


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
    h, w, channels = image.shape
    src = _grid(rows, cols) @ to_source.T.astype(np.float32)
    x = np.clip(src[:, 0], 0, w - 1)
    y = np.clip(src[:, 1], 0, h - 1)
    # the top-left neighbour, kept one pixel inside so that its right and lower neighbours exist
    x0 = np.minimum(x.astype(np.int32), max(w - 2, 0))
    y0 = np.minimum(y.astype(np.int32), max(h - 2, 0))
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    flat = image.reshape(h * w, channels)
    first = y0 * w + x0
    right, down = min(1, w - 1), w if h > 1 else 0  # a one-pixel-wide image has no neighbour to its right
    top = np.take(flat, first, axis=0) * (1 - fx) + np.take(flat, first + right, axis=0) * fx
    bottom = np.take(flat, first + down, axis=0) * (1 - fx) + np.take(flat, first + down + right, axis=0) * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False).reshape(rows, cols, channels)


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
