"""A video's frames at a fixed frame rate on its audio's clock, read once, one frame at a time.

Frame k is the picture shown at k / fps seconds after the video's audio track starts (read from the
streams' start times): pictures shown before the audio starts are dropped, and a video that starts after its
audio holds its first picture until then; without an audio track the first picture is time 0. A phone's
rotation metadata is applied, so that faces stand upright. The face front end reads full-size pictures;
a face-cropped video is read scaled to the crop's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError


def _start(stream) -> float | None:
    """When a stream starts, in seconds on the container's clock (None when the container does not say)."""
    return None if stream.start_time is None else float(stream.start_time * stream.time_base)


def _upright(frame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded picture as RGB uint8 (rows, columns, 3), turned as its display matrix says."""
    turns = int(round(getattr(frame, "rotation", 0) or 0) / 90) % 4
    if size is not None:  # (width, height) wanted once upright: decode the turned picture at the turned size
        width, height = size if turns % 2 == 0 else size[::-1]
        picture = frame.to_ndarray(format="rgb24", width=width, height=height)
    else:
        picture = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(picture, turns)) if turns else picture


@contextlib.contextmanager
def video_stream(path: Path):
    """The open container of the video ``path`` and its first video stream; PyAV's failures (while opening or
    while decoding inside the block) become an :class:`InputError` naming ``path``."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "holds no video stream")
            yield container, container.streams.video[0]
    except av.FFmpegError as err:
        raise InputError(path, f"is not a readable video ({err})") from None


def picture_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the pictures of the video ``path`` as stored, from its header."""
    with video_stream(Path(path)) as (_, stream):
        return stream.codec_context.width, stream.codec_context.height


def timed_frames(path: str | Path, fps: float, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The video's pictures at ``fps`` on its audio's clock (see the module's text).

    Args:
        path: a video file PyAV reads.
        fps: the frame rate wanted.
        size: (width, height) to scale every picture to; None keeps the video's own.

    Yields:
        RGB uint8 (rows, columns, 3) pictures, one per frame, up to the video's end on the audio's clock.

    Raises:
        InputError: no video stream, no picture, an unreadable or truncated file, or a video that ends
            before its audio starts; naming ``path``.
    """
    path = Path(path)
    with video_stream(path) as (container, stream):
        video_start = _start(stream)
        audio_start = _start(container.streams.audio[0]) if container.streams.audio else None
        zero, k, shown, first, last, step = audio_start, 0, None, None, None, 1 / fps
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else (video_start or 0.0) + (k + 1) / fps
            first = t if first is None else first
            zero = t if zero is None else zero
            picture = _upright(frame, size)
            while zero + k / fps + 1e-6 < t:  # times before this picture show the one before it
                yield picture if shown is None else shown  # (a late video: its first picture)
                k += 1
            if last is not None and t > last:
                step = t - last
            shown, last = picture, t
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    if shown is None or first is None or last is None or zero is None:
        raise InputError(path, "holds no video frame")
    end = (video_start if video_start is not None else first) + duration if duration else last + step
    if end - zero < 0.5 / fps:
        raise InputError(path, f"its video ends ({end:.2f} s) before its audio starts ({zero:.2f} s)")
    while k < int(round((end - zero) * fps)):
        yield shown
        k += 1
