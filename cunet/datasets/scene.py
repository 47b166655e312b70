"""Embedded singers filmed as a phone would: their face crops placed into larger pictures, and written as a video.

Each singer's 96 x 128 frames (``face.render``) are put at a position, size and small angle of their own,
drifting a little over time, in front of a cluttered background of coloured tiles; several singers stand side
by side, left to right in the order given. The placements are returned, so that the generator's own
landmarks can be followed into the picture. :func:`write_video` encodes pictures as H.264 with an audio track.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..faces import geometry
from ..fileio import atomic_path

SHAPE = (480, 640)  # rows, columns: a 640 x 480 video


def placements(rng: np.random.Generator, singers: int, n_frames: int, shape=SHAPE) -> np.ndarray:
    """(singers, n_frames, 2, 3) maps from each singer's crop into the picture: scale 1.6 to 2.6 (faces of
    150 to 250 pixels), angle within 10 degrees, each in its own slot across the width, drifting slowly."""
    rows, cols = shape
    out = np.empty((singers, n_frames, 2, 3))
    t = np.arange(n_frames) / max(n_frames - 1, 1)
    for s in range(singers):
        scale = rng.uniform(1.6, 2.6) if singers == 1 else rng.uniform(1.4, 1.9)
        angle = np.radians(rng.uniform(-10, 10)) + np.radians(2) * np.sin(2 * np.pi * t + rng.uniform(0, 6))
        slot = (s + 0.5) / singers * cols
        centre = np.stack(
            [
                slot + rng.uniform(-0.1, 0.1) * cols / singers + 8 * np.sin(2 * np.pi * t),
                rows / 2 + rng.uniform(-0.08, 0.08) * rows + 6 * np.cos(2 * np.pi * t),
            ],
            axis=1,
        )
        for k in range(n_frames):
            c, s_ = np.cos(angle[k]), np.sin(angle[k])
            linear = scale * np.array([[c, -s_], [s_, c]])
            out[s, k] = np.concatenate([linear, (centre[k] - linear @ np.array([48.0, 64.0]))[:, None]], axis=1)
    return out


def render_scene(faces: list[np.ndarray], maps: np.ndarray, rng: np.random.Generator, shape=SHAPE) -> np.ndarray:
    """(T, rows, columns, 3) uint8 pictures: each singer's (T, 128, 96, 3) frames through its ``maps`` over a
    background of tiles (fixed for the whole video)."""
    rows, cols = shape
    tiles = rng.integers(20, 236, (rows // 24 + 1, cols // 24 + 1, 3)).repeat(24, 0).repeat(24, 1)[:rows, :cols]
    corners = np.array([[-0.5, -0.5], [95.5, -0.5], [-0.5, 127.5], [95.5, 127.5]])
    out = np.empty((len(faces[0]), rows, cols, 3), np.uint8)
    for k in range(len(out)):
        picture = tiles.astype(np.float32)
        for frames, m in zip(faces, maps):
            # only the face's bounding box in the picture is resampled
            box = geometry.apply(m[k], corners)
            (x0, y0), (x1, y1) = np.floor(box.min(0)).astype(int), np.ceil(box.max(0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cols), min(y1, rows)
            if x0 >= x1 or y0 >= y1:
                continue  # out of the picture
            to_crop = geometry.invert(m[k])
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
            src = geometry.apply(to_crop, np.stack([xx, yy], axis=-1))
            inside = ((src >= -0.5) & (src <= np.array([95.5, 127.5]))).all(-1)
            shift = np.array([[1.0, 0, x0], [0, 1.0, y0]])  # box pixel -> picture pixel
            local = to_crop @ np.vstack([shift, [0, 0, 1]])
            region = picture[y0:y1, x0:x1]
            region[inside] = geometry.warp(frames[k], local, (y1 - y0, x1 - x0))[inside]
        out[k] = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
    return out


def write_video(path: str | Path, pictures: np.ndarray, fps: int, sound: np.ndarray | None = None, rate: int = 0):
    """``pictures`` as H.264 (yuv420p, constant quality 18) at ``fps``, with ``sound`` (float (samples,) or
    (channels, samples) at ``rate``) as 16-bit PCM where given; an .mkv or .mp4 name (mp4 takes AAC)."""
    import av

    path = Path(path)
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="matroska" if path.suffix == ".mkv" else "mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"crf": "18"})
        video.width, video.height, video.pix_fmt = pictures.shape[2], pictures.shape[1], "yuv420p"
        audio_stream: av.AudioStream | None = None
        if sound is not None:
            sound = np.atleast_2d(sound)
            layout = "mono" if len(sound) == 1 else "stereo"
            codec = "pcm_s16le" if path.suffix == ".mkv" else "aac"
            added = out.add_stream(codec, rate=rate, layout=layout)
            assert isinstance(added, av.AudioStream)  # for mypy: an audio codec's stream
            audio_stream = added
        for picture in pictures:
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio_stream is not None and sound is not None:
            fmt = "s16" if audio_stream.codec_context.name == "pcm_s16le" else "fltp"
            for start in range(0, sound.shape[1], 4096):
                block = np.ascontiguousarray(sound[:, start : start + 4096])
                data = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1) if fmt == "s16" else block
                frame = av.AudioFrame.from_ndarray(
                    data.astype(np.float32) if fmt == "fltp" else data, format=fmt, layout=audio_stream.layout.name
                )
                frame.sample_rate, frame.pts = rate, start
                for packet in audio_stream.encode(frame):
                    out.mux(packet)
            for packet in audio_stream.encode():
                out.mux(packet)
