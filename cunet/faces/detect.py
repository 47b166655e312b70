"""Faces in an image: MediaPipe's full-range face detector (BlazeFace, 192 x 192 input) and its decoding.

The model predicts, for each of 48 x 48 anchors (one per 4-pixel cell of its input, unit size), a score and
16 offsets: the box's centre, width and height, and six keypoints (the subject's right eye, left eye, nose
tip, mouth centre, right and left ear tragion), all in input pixels relative to the anchor's centre.
An image is letterboxed into the input (its aspect ratio kept), and overlapping detections are merged by
score-weighted non-maximum suppression, as MediaPipe's own graph does.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import geometry
from .engine import DETECTOR, Model

GRID, STRIDE = 48, 4  # the full-range model's one anchor layer
MIN_SCORE = 0.5
MERGE_IOU = 0.3
RIGHT_EYE, LEFT_EYE = 0, 1  # keypoints: the subject's right eye appears on the image's left


@dataclasses.dataclass(frozen=True)
class Detection:
    """A face found in an image: its box (x0, y0, x1, y1) and six keypoints (6, 2) in the image's pixels."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def centre(self) -> np.ndarray:
        return (self.box[:2] + self.box[2:]) / 2

    @property
    def size(self) -> float:
        """The box's larger side, in pixels."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def _anchors() -> np.ndarray:
    y, x = np.mgrid[0:GRID, 0:GRID]
    return (np.stack([x.ravel(), y.ravel()], axis=1) + 0.5) * STRIDE  # anchor centres, input pixels


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of box ``a`` (4,) with each of ``b`` (N, 4)."""
    lo, hi = np.maximum(a[:2], b[:, :2]), np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda boxes: np.prod(boxes[..., 2:] - boxes[..., :2], axis=-1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


class FaceDetector:
    """``FaceDetector()(image)`` -> the faces of an RGB uint8 image, best first."""

    def __init__(self, min_score: float = MIN_SCORE, threads: int = 1):
        self.model = Model(DETECTOR, threads)
        self.min_score = min_score
        self.anchors = _anchors()

    def letterbox(self, shape: tuple[int, ...]) -> np.ndarray:
        """The (2, 3) map from the model's input pixels to the image's (its aspect ratio kept, padded)."""
        side = self.model.size[0]
        scale = max(shape[0], shape[1]) / side
        pad = (side - np.array([shape[1], shape[0]]) / scale) / 2
        return np.array([[scale, 0, -pad[0] * scale], [0, scale, -pad[1] * scale]])

    def __call__(self, image: np.ndarray) -> list[Detection]:
        to_image = self.letterbox(image.shape)
        side = self.model.size[0]
        # sample at pixel centres: input pixel i is continuous i + 0.5; image pixel j is continuous j + 0.5
        centred = to_image.copy()
        centred[:, 2] = geometry.apply(to_image, np.array([0.5, 0.5])) - 0.5
        x = geometry.warp(image, centred, (side, side)) * (2 / 255) - 1  # the model takes [-1, 1]
        raw, logits = self.model(x)
        scores = 1 / (1 + np.exp(-np.clip(logits[:, 0], -100, 100)))
        keep = np.flatnonzero(scores >= self.min_score)
        if not len(keep):
            return []
        raw, scores, anchors = raw[keep].astype(np.float64), scores[keep], self.anchors[keep]
        centre = anchors + raw[:, :2]
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = anchors[:, None] + raw[:, 4:16].reshape(-1, 6, 2)
        faces = []
        for box, points, score in _merged(boxes, keypoints, scores):
            box = (geometry.apply(to_image, box.reshape(2, 2)) - 0.5).ravel()
            faces.append(Detection(box, geometry.apply(to_image, points) - 0.5, float(score)))
        return faces


def _merged(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray):
    """Score-weighted non-maximum suppression: each kept face is the weighted mean of the detections that
    overlap the best remaining one by more than MERGE_IOU."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    left = np.ones(len(scores), bool)
    while left.any():
        first = int(np.flatnonzero(left)[0])
        group = left & (iou(boxes[first], boxes) > MERGE_IOU)
        group[first] = True
        w = scores[group] / scores[group].sum()
        yield (w @ boxes[group], np.tensordot(w, keypoints[group], axes=1), scores[first])
        left &= ~group
