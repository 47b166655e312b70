"""Patch indexes: integer arrays of (track, start frame[, condition]), and the condition vectors.

Rows are in track, start, condition order; shuffling is the loader's job (seeded there), so the
index itself is a plain, reproducible enumeration.
"""

from __future__ import annotations

import numpy as np

from ..datasets.musdb import SOURCES


def conditions(add_zero: bool = False, add_all: bool = False) -> tuple[np.ndarray, list[str]]:
    """One-hot vectors over SOURCES (bass, drums, other, vocals), optionally all-ones and all-zeros."""
    rows, names = [np.eye(len(SOURCES), dtype=np.float32)], list(SOURCES)
    if add_all:
        rows.append(np.ones((1, len(SOURCES)), np.float32))
        names.append("all")
    if add_zero:
        rows.append(np.zeros((1, len(SOURCES)), np.float32))
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


def clip_index(clips: list[dict], split: str, video_frames: int, clip_samples: int,
               samples_per_frame: float, hop: int) -> np.ndarray:
    """(rows, 2) int32: track id, start video frame, for clips of ``split`` whose audio and frames both fit."""
    parts = []
    for tid, meta in enumerate(clips):
        if meta["split"] != split:
            continue
        starts = patch_starts(meta["n_frames"], video_frames, hop)
        starts = starts[np.round(starts * samples_per_frame) + clip_samples <= meta["n_samples"]]
        parts.append(np.column_stack([np.full(len(starts), tid), starts]))
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, 2), np.int32)
