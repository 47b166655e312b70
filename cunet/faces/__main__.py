"""``python -m cunet.faces VIDEO --out DIR``: what a Y-Net will see of a video's singer.

Writes, into DIR (whole or not at all): ``frames.npy`` (uint8 (T, 128, 96, 3) aligned face crops at 25 fps),
``landmarks.npy`` (int16 (T, 68, 2) in the crop) and ``preview.mp4``, the crops four times larger with the 68
points drawn, to check which face was chosen and how well it is followed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..cli import run_command
from ..errors import InputError
from ..fileio import atomic_dir, save_npy
from .choice import CHOICES, check_face
from .front_end import face_track

ZOOM = 4


def preview(frames: np.ndarray, landmarks: np.ndarray, path: Path, fps: int = 25) -> None:
    """An H.264 mp4 of the crops, ``ZOOM`` times larger, each landmark a green dot."""
    import av

    big = frames.repeat(ZOOM, axis=1).repeat(ZOOM, axis=2)
    rows, cols = big.shape[1:3]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = cols, rows, "yuv420p"
        for picture, points in zip(big, landmarks):
            picture = picture.copy()
            for x, y in (points.astype(np.int64) * ZOOM + ZOOM // 2).tolist():
                picture[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = (0, 255, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


WRITTEN = ("frames.npy", "landmarks.npy", "preview.mp4")


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that exists and is not an earlier preview (it would be replaced whole)."""
    if out.exists() and (not out.is_dir() or any(p.name not in WRITTEN for p in out.iterdir())):
        raise InputError(out, "exists and is not a preview this command wrote: give a new folder")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m cunet.faces``."""
    parser = argparse.ArgumentParser(prog="python -m cunet.faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path, help="a video of one or more singers")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument(
        "--face", default="largest", help=f"which face: {', '.join(CHOICES)}, or N (the Nth from the left, from 1)"
    )
    parser.add_argument("--stride", type=int, default=1, help="run the detector every N frames, track between")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command (see the module's text); its exit code."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        check_face(args.face)
        if args.stride < 1:
            raise ValueError(f"--stride must be at least 1, got {args.stride}")
        check_out(args.out)
        found = face_track(args.video, args.face, stride=args.stride)
        for warning in found.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        with atomic_dir(args.out) as tmp:
            save_npy(tmp / "frames.npy", found.frames)
            save_npy(tmp / "landmarks.npy", found.landmarks)
            preview(found.frames, found.landmarks, tmp / "preview.mp4")
        print(f"{args.video}: {found.faces} face(s); wrote {len(found.frames)} frames of the chosen one to {args.out}")
        return 0

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
