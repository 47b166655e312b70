"""Facial landmarks: MediaPipe's 468-point face mesh, run on a square region of interest around a face.

The region is centred on the face, 1.5 times its size, and turned so that the eyes lie level, as
MediaPipe's graph crops it; the model sees that region at 192 x 192 in [0, 1] and returns 468 points (x, y
in its input's pixels, and a relative depth) with a logit that the region holds a face. The points are
mapped back into the image.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import geometry
from .detect import LEFT_EYE, RIGHT_EYE, Detection
from .engine import MESH, Model

ROI_SCALE = 1.5
MESH_RIGHT_EYE, MESH_LEFT_EYE = 33, 263  # the outer eye corners of the mesh: the region's angle when tracking
MIN_PRESENCE = 0.5


@dataclasses.dataclass(frozen=True)
class Region:
    """A square region of an image: its centre (x, y), side in pixels and angle in radians (x axis of the
    region along (cos, sin) in the image)."""

    centre: np.ndarray
    side: float
    angle: float

    def to_image(self, size: int) -> np.ndarray:
        """The (2, 3) map from a ``size`` x ``size`` crop's continuous coordinates to the image's."""
        linear = geometry.rotation_matrix(self.angle) * (self.side / size)
        return np.concatenate([linear, (self.centre - linear @ np.array([size / 2, size / 2]))[:, None]], axis=1)

    @staticmethod
    def around(points: np.ndarray, right_eye: np.ndarray, left_eye: np.ndarray, side: float) -> Region:
        d = left_eye - right_eye
        return Region(np.asarray(points, np.float64), float(side) * ROI_SCALE, float(np.arctan2(d[1], d[0])))

    @staticmethod
    def of_detection(face: Detection) -> Region:
        kp = face.keypoints
        return Region.around(face.centre, kp[RIGHT_EYE], kp[LEFT_EYE], face.size)

    @staticmethod
    def of_mesh(points: np.ndarray) -> Region:
        """The region the next frame's mesh is taken in, from this frame's points (tracking)."""
        right, left = points[MESH_RIGHT_EYE], points[MESH_LEFT_EYE]
        angle = np.arctan2(*(left - right)[::-1])
        # the box of the points in the face's own orientation, as MediaPipe's landmarks-to-region step
        upright = (points - points.mean(0)) @ geometry.rotation_matrix(angle)
        lo, hi = upright.min(0), upright.max(0)
        centre = points.mean(0) + geometry.rotation_matrix(angle) @ ((lo + hi) / 2)
        return Region(centre, float((hi - lo).max()) * ROI_SCALE, float(angle))


class FaceMesh:
    """``FaceMesh()(image, region)`` -> (468, 2) points in the image and the model's face presence (0..1)."""

    def __init__(self, threads: int = 1):
        self.model = Model(MESH, threads)

    def __call__(self, image: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
        size = self.model.size[0]
        to_image = region.to_image(size)
        # sample at pixel centres: crop pixel i is continuous i + 0.5; image pixel j is continuous j + 0.5
        centred = to_image.copy()
        centred[:, 2] = geometry.apply(to_image, np.array([0.5, 0.5])) - 0.5
        crop = geometry.warp(image, centred, (size, size)) * (1 / 255)
        points, logit = self.model(crop)
        points = points.reshape(-1, 3)[:, :2].astype(np.float64)
        presence = float(1 / (1 + np.exp(-np.clip(np.ravel(logit)[0], -100, 100))))
        return geometry.apply(to_image, points) - 0.5, presence
