"""Patch indexes: integer arrays of (track, start frame[, condition]), and the condition vectors.

Rows are in track, start, condition order; shuffling is the loader's job (seeded there), so the
index itself is a plain, reproducible enumeration.
"""

from __future__ import annotations

import numpy as np

from ..datasets.musdb import SOURCES
from ..errors import InputError


def parse_combination(text: str, sources) -> tuple[str, tuple[str, ...]]:
    """``"accompaniment=bass+drums+other"`` (a ``--condition`` value) -> its name and sources.

    Args:
        text: NAME=SOURCE+SOURCE...
        sources: the store's sources; each named one must be among them.

    Returns:
        (name, the sources in the store's order)."""
    name, sep, members = text.partition("=")
    name, parts = name.strip(), [m.strip() for m in members.split("+")]
    if not sep or not name or not all(parts):
        raise InputError(None, f"--condition {text!r} is not of the form NAME=SOURCE+SOURCE...")
    unknown = [m for m in parts if m not in sources]
    if unknown:
        raise InputError(
            None, f"--condition {name}: no source {unknown[0]!r}; the store's sources are {', '.join(sources)}"
        )
    if name in sources or name in ("all", "silence"):
        raise InputError(None, f"--condition {name}: the name is taken (a source, 'all' or 'silence')")
    return name, tuple(s for s in sources if s in parts)


def conditions(
    add_zero: bool = False, add_all: bool = False, sources=SOURCES, combinations=()
) -> tuple[np.ndarray, list[str]]:
    """The condition vectors a store indexes, and their names.

    Args:
        add_zero, add_all: index the all-zeros (silence) and all-ones (the whole mixture) conditions too.
        sources: the store's sources, in condition order (MUSDB18's: bass, drums, other, vocals).
        combinations: ``--condition`` values, NAME=SOURCE+SOURCE...: several ones, the target their sum.

    Returns:
        (float32 (conditions, sources): one-hots, combinations, then all-ones and all-zeros; their names)."""
    rows, names = [np.eye(len(sources), dtype=np.float32)], list(sources)
    for text in combinations:
        name, parts = parse_combination(text, sources)
        if name in names:
            raise InputError(None, f"--condition {name} is given twice")
        rows.append(np.array([[float(s in parts) for s in sources]], np.float32))
        names.append(name)
    if add_all:
        rows.append(np.ones((1, len(sources)), np.float32))
        names.append("all")
    if add_zero:
        rows.append(np.zeros((1, len(sources)), np.float32))
        names.append("silence")
    return np.concatenate(rows), names


def patch_starts(n_frames: int, patch: int, hop: int) -> np.ndarray:
    """Every start frame whose patch lies inside the track."""
    return np.arange(0, max(0, n_frames - patch + 1), hop, dtype=np.int64)


def music_index(tracks: list[dict], split: str, patch: int, hop: int, n_conditions: int) -> np.ndarray:
    """(rows, 3) int32: track id, start frame, condition id, for every track of ``split``."""
    parts = []
    for tid, meta in enumerate(tracks):
        if meta["split"] != split:
            continue
        starts = patch_starts(meta["n_frames"], patch, hop)
        grid = np.stack(np.meshgrid(starts, np.arange(n_conditions), indexing="ij"), -1).reshape(-1, 2)
        parts.append(np.column_stack([np.full(len(grid), tid), grid]))
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, 3), np.int32)


def clip_index(
    clips: list[dict], split: str, video_frames: int, clip_samples: int, samples_per_frame: float, hop: int
) -> np.ndarray:
    """(rows, 2) int32: track id, start video frame, for clips of ``split`` whose audio and frames both fit."""
    parts = []
    for tid, meta in enumerate(clips):
        if meta["split"] != split:
            continue
        starts = patch_starts(meta["n_frames"], video_frames, hop)
        starts = starts[np.round(starts * samples_per_frame) + clip_samples <= meta["n_samples"]]
        parts.append(np.column_stack([np.full(len(starts), tid), starts]))
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, 2), np.int32)
