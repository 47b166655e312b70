"""The visual input of a Y-Net for a user's audio file: face frames, landmarks, or a face-cropped video.

For ``.../audio/<Language>/<Gender>/<id>.wav`` in the Acappella layout, the frames and landmarks are
``.../frames/<Language>/<Gender>/<id>.npy`` and ``.../landmarks/...``. Anywhere else, files beside the
audio with the same stem: ``<id>.frames.npy``, ``<id>.landmarks.npy``, or a video ``<id>.mp4`` (also
.avi, .mkv, .mov, .webm; the input itself, where it is a video), read with PyAV at the model's frame rate
(its card's, 25 fps) on the clock of the video's audio track (``cunet.faces.video``). A video of 96 x 128
pictures is taken to be face-cropped already (as Acappella's frames are); any other goes through the face
front end (``cunet.faces``), which finds the face ``face`` names and gives its aligned crops and landmarks.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..audio import VIDEO_EXTENSIONS
from ..errors import InputError
from ..faces.video import picture_size, timed_frames
from ..fileio import load_npy
from ..singing_input import FRAME_SHAPE, N_LANDMARKS


def read_video(path: str | Path, fps: int) -> np.ndarray:
    """A face-cropped video -> uint8 (T, 128, 96, 3) frames at ``fps``, frame k shown at k/fps s after the
    start of the video's audio track (``cunet.faces.video.timed_frames``).

    Args:
        path: a video file PyAV reads.
        fps: the frame rate the model was trained at (its card's).

    Returns:
        The frames; T covers the video's end on the audio's clock.
    """
    height, width, _ = FRAME_SHAPE
    return np.stack(list(timed_frames(path, fps, size=(width, height))))


def is_face_crop(path: Path) -> bool:
    """Whether the video ``path`` holds 96 x 128 pictures (a face crop), from its header."""
    height, width, _ = FRAME_SHAPE
    return picture_size(path) == (width, height)


def from_video(path: Path, kind: str, fps: int, face: str) -> np.ndarray:
    """The frames (uint8) or landmarks (int16) of a video: read as they are from a face crop, else through
    the face front end (its warnings issued as :class:`FaceWarning`)."""
    if is_face_crop(path):
        if kind == "video":
            return read_video(path, fps)
        raise InputError(path, "a face-cropped video holds no landmarks: this Y-Net needs the face's landmarks")
    from ..faces.front_end import face_track

    found = face_track(path, face, fps)
    for message in found.warnings:
        warnings.warn(message, FaceWarning, stacklevel=2)
    return found.frames if kind == "video" else found.landmarks


class FaceWarning(UserWarning):
    """What the face front end filled in (a face lost for a moment)."""


def check_visual(array: np.ndarray, kind: str, path: Path) -> np.ndarray:
    """``array``, read from ``path``, checked as a Y-Net's visual input of ``kind`` ("video": face frames,
    returned as they are; else landmarks, returned as float32).

    Raises:
        InputError: the wrong type or shape, or landmarks that are NaN or infinite.
    """
    if kind == "video":
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1:] != FRAME_SHAPE:
            raise InputError(path, f"frames must be uint8 (T, 128, 96, 3), got {array.dtype} {array.shape}")
        return array
    if array.ndim != 3 or array.shape[1:] != (N_LANDMARKS, 2) or array.dtype.kind not in "iuf":
        raise InputError(path, f"landmarks must be (T, 68, 2) numbers, got {array.dtype} {array.shape}")
    array = np.asarray(array, np.float32)
    if not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise InputError(path, f"landmarks hold NaN or infinite values (first in frame {bad})")
    return array


def candidates(audio_path: Path, kind: str) -> list[Path]:
    """Where the visual input of ``audio_path`` may be, in the order they are tried."""
    folder = "frames" if kind == "video" else "landmarks"
    found = []
    parts = audio_path.parts
    if "audio" in parts[:-1]:  # the Acappella layout: swap the last 'audio' folder for frames/landmarks
        i = len(parts) - 1 - parts[::-1].index("audio", 1)
        found.append(Path(*parts[:i], folder, *parts[i + 1 : -1], audio_path.stem + ".npy"))
    found.append(audio_path.with_name(f"{audio_path.stem}.{folder}.npy"))
    videos = [audio_path] if audio_path.suffix.lower() in VIDEO_EXTENSIONS else []  # the input itself first
    videos += [audio_path.with_suffix(ext) for ext in VIDEO_EXTENSIONS if audio_path.with_suffix(ext) not in videos]
    return found + videos


def load_visual(audio_path: str | Path, kind: str, fps: int, face: str = "largest") -> tuple[np.ndarray, Path]:
    """The frames (uint8) or landmarks (float32) that go with ``audio_path`` at ``fps`` (a video is resampled
    to it; frames and landmarks already saved are taken to be at it), and the file they came from; ``face``
    picks the singer of a raw video (``--face``)."""
    if kind not in ("video", "landmarks"):
        raise ValueError(f"visual kind must be video or landmarks, got {kind!r}")
    audio_path = Path(audio_path)
    tried = candidates(audio_path, kind)
    for path in tried:
        if path.is_file():
            # .npy frames stay memory-mapped: a separator reads them a block at a time
            array = from_video(path, kind, fps, face) if path.suffix.lower() in VIDEO_EXTENSIONS else load_npy(path)
            return check_visual(array, kind, path), path
    what = "face frames or a video of the face" if kind == "video" else "landmarks or a video of the face"
    raise InputError(
        audio_path,
        f"this Y-Net needs the singer's {what}; none found (looked for " + ", ".join(str(p) for p in tried) + ")",
    )
