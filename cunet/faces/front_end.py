"""From a raw video to one singer's aligned face crops and 68 landmarks at 25 fps: the front end's way in.

The video is read twice, a frame at a time (its pictures are never all in memory): once to find and follow
the faces (track.py), once to cut the chosen face's crops through its smoothed warps (align.py). The chosen
face's frames where it was lost are filled in: gaps up to a second are interpolated (with a warning naming
them), a longer one is refused naming its time span.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.signal

from ..errors import InputError
from ..singing_input import FPS
from . import align
from .choice import check_face, choose
from .track import Track, follow
from .video import timed_frames

MAX_GAP_SECONDS = 1.0
POINT_SMOOTHING = 5  # frames: short enough to keep a mouth that opens and shuts within 0.2 s


@dataclasses.dataclass(frozen=True)
class FaceTrack:
    """The chosen face: uint8 (T, 128, 96, 3) crops and int16 (T, 68, 2) landmarks in the crop, at ``fps``;
    how many faces the video held, and what was filled in."""

    frames: np.ndarray
    landmarks: np.ndarray
    faces: int
    warnings: tuple[str, ...]


def filled(track: Track, n: int, fps: float, path: Path) -> tuple[np.ndarray, list[str]]:
    """The track's (n, 68, 2) points with the frames it was lost in filled (see the module's text)."""
    seen = np.array(sorted(track.points))
    points = np.stack([track.points[k] for k in seen]).astype(np.float64)
    lost = np.setdiff1d(np.arange(n), seen)
    warnings = []
    # runs of consecutive lost frames
    for run in np.split(lost, np.flatnonzero(np.diff(lost) > 1) + 1) if len(lost) else []:
        span = f"{run[0] / fps:.2f}-{(run[-1] + 1) / fps:.2f} s"
        if len(run) > MAX_GAP_SECONDS * fps:
            raise InputError(path, f"the chosen face is lost for {len(run) / fps:.2f} s ({span}), over a second")
        warnings.append(f"{path}: the chosen face was lost at {span}; its landmarks there are interpolated")
    out = np.empty((n, 68, 2))
    for axis in range(2):  # linear between seen frames, held before the first and after the last
        for i in range(68):
            out[:, i, axis] = np.interp(np.arange(n), seen, points[:, i, axis])
    return out, warnings


def face_track(
    path: str | Path,
    face: str = "largest",
    fps: float = FPS,
    stride: int = 1,
    progress: Callable[[int], None] | None = None,
) -> FaceTrack:
    """The chosen face of the video ``path``, ready for a Y-Net (see the module's text).

    Args:
        path: a video file.
        face: which face (:func:`check_face`).
        fps: the frame rate of the result (the model's).
        stride: the detector runs on every ``stride``-th frame, faces are tracked between.
        progress: called with each frame's index as the first pass finishes it.

    Raises:
        InputError: no face; ``face`` beyond the faces found; the face lost for over a second; a video
            that cannot be read; naming ``path``.
    """
    path = Path(path)
    check_face(face)
    tracks, n, shape = follow(timed_frames(path, fps), stride, progress=progress)
    chosen = choose(tracks, face, shape, n, path)
    points, warnings = filled(chosen, n, fps, path)
    if n >= POINT_SMOOTHING:  # a local quadratic fit: the detector's jitter goes, a moving face is followed
        points = scipy.signal.savgol_filter(points, POINT_SMOOTHING, 2, axis=0, mode="interp")
    maps = align.warps(points)
    frames = np.empty((n, *align.FRAME_SHAPE), np.uint8)
    for k, picture in enumerate(timed_frames(path, fps)):
        if k < n:
            frames[k] = align.aligned(picture, maps[k])
    return FaceTrack(frames, align.crop_landmarks(points, maps), len(tracks), tuple(warnings))
