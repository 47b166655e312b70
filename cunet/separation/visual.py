"""The visual input of a Y-Net for a user's audio file: face frames, landmarks, or a face-cropped video.

For ``.../audio/<Language>/<Gender>/<id>.wav`` in the Acappella layout, the frames and landmarks are
``.../frames/<Language>/<Gender>/<id>.npy`` and ``.../landmarks/...``. Anywhere else, files beside the
audio with the same stem: ``<id>.frames.npy``, ``<id>.landmarks.npy``, or a video ``<id>.mp4`` (also
.avi, .mkv, .mov, .webm), read with PyAV. A video is taken to be face-cropped already (as Acappella's
frames are); it is scaled to 96x128 and brought to the model's frame rate (its card's, 25 fps) by
taking, for every frame, the one shown at that time. Times are on the clock of the video's audio track
(its first sample is time 0), read from the streams' start times: frames shown before the audio starts are
dropped, and a video that starts after its audio holds its first frame until then. A video without an audio
track is timed from its first frame (the audio, in a file beside it, is taken to start with it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio import VIDEO_EXTENSIONS
from ..errors import InputError
from ..fileio import load_npy
from ..singing_input import FRAME_SHAPE, N_LANDMARKS


def _start(stream) -> float | None:
    """When a stream starts, in seconds on the container's clock (None when the container does not say)."""
    return None if stream.start_time is None else float(stream.start_time * stream.time_base)


def read_video(path: str | Path, fps: int) -> np.ndarray:
    """A face-cropped video -> uint8 (T, 128, 96, 3) frames at ``fps``, frame k shown at k/fps s after the
    start of the video's audio track (see the module's docstring).

    Args:
        path: a video file PyAV reads.
        fps: the frame rate the model was trained at (its card's).

    Returns:
        The frames; T covers the video's end on the audio's clock.
    """
    import av

    path = Path(path)
    height, width, _ = FRAME_SHAPE
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "holds no video stream")
            stream = container.streams.video[0]
            video_start = _start(stream)
            audio_start = _start(container.streams.audio[0]) if container.streams.audio else None
            frames: list[np.ndarray] = []
            stamps: list[float] = []
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
                stamps.append(float(frame.time) if frame.time is not None else (video_start or 0.0) + len(stamps) / fps)
            # a demuxed stream always has a time base: its test is there for mypy
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    except av.FFmpegError as err:
        raise InputError(path, f"is not a readable video ({err})") from None
    if not frames:
        raise InputError(path, "holds no video frame")
    times = np.asarray(stamps)
    step = times[-1] - times[-2] if len(times) > 1 else 1 / fps
    end = (video_start if video_start is not None else times[0]) + duration if duration else times[-1] + step
    zero = audio_start if audio_start is not None else times[0]
    if end - zero < 0.5 / fps:
        raise InputError(path, f"its video ends ({end:.2f} s) before its audio starts ({zero:.2f} s)")
    wanted = zero + np.arange(int(round((end - zero) * fps))) / fps
    # before its first frame a late video shows that frame (index clipped to 0)
    shown = np.clip(np.searchsorted(times, wanted + 1e-6, side="right") - 1, 0, len(frames) - 1)
    return np.stack(frames)[shown]


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
    if kind == "video":
        found += [audio_path.with_suffix(ext) for ext in VIDEO_EXTENSIONS]
    return found


def load_visual(audio_path: str | Path, kind: str, fps: int) -> tuple[np.ndarray, Path]:
    """The frames (uint8) or landmarks (float32) that go with ``audio_path`` at ``fps`` (a video is resampled
    to it; frames and landmarks already saved are taken to be at it), and the file they came from."""
    if kind not in ("video", "landmarks"):
        raise ValueError(f"visual kind must be video or landmarks, got {kind!r}")
    audio_path = Path(audio_path)
    tried = candidates(audio_path, kind)
    for path in tried:
        if path.is_file():
            # .npy frames stay memory-mapped: a separator reads them a block at a time
            array = read_video(path, fps) if path.suffix.lower() in VIDEO_EXTENSIONS else load_npy(path)
            return check_visual(array, kind, path), path
    what = "face frames or a face video" if kind == "video" else "landmarks"
    raise InputError(
        audio_path,
        f"this Y-Net needs the singer's {what}; none found (looked for " + ", ".join(str(p) for p in tried) + ")",
    )
