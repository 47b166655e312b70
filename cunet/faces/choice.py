"""Which face of a video is the singer: ``--face largest|left|right|center|N``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # the command's flag check (streaming.py) loads no face model code
    from .track import Track

CHOICES = ("largest", "left", "right", "center")


def check_face(face: str) -> str:
    """``face`` as ``--face`` takes it: largest, left, right, center, or N >= 1 (the Nth face, left to right).

    Raises:
        ValueError: anything else.
    """
    if face in CHOICES or (re.fullmatch(r"[0-9]+", face) and int(face) >= 1):
        return face
    raise ValueError(f"--face must be one of {', '.join(CHOICES)} or a number from 1, got {face!r}")


def choose(tracks: list[Track], face: str, shape: tuple[int, int], n: int, path: Path) -> Track:
    """The track ``face`` names among ``tracks`` (left to right), in ``n`` pictures of ``shape`` (rows, columns)."""
    if not tracks:
        raise InputError(path, f"no face found in any of its {n} frames")
    if face == "largest":
        return max(tracks, key=lambda t: t.size)
    if face == "left":
        return tracks[0]
    if face == "right":
        return tracks[-1]
    if face == "center":
        middle = np.array([shape[1], shape[0]]) / 2
        return min(tracks, key=lambda t: float(np.linalg.norm(t.centre - middle)))
    if int(face) > len(tracks):
        raise InputError(path, f"--face {face}: the video holds {len(tracks)} face(s) (numbered 1 to {len(tracks)})")
    return tracks[int(face) - 1]
