"""Music tracks to the C-U-Net store: one complex64 STFT ``.npy`` (513, frames) per stem, mono at 8192 Hz."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets.musdb import STEMS, MusicTrack
from ..fileio import save_npy
from .store import TrackJob

STFT = audio.CUNET_STFT


def folder_name(name: str) -> str:
    """A portable folder name for a track title (MUSDB titles hold spaces, '&', apostrophes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "track"


def write_track(track: MusicTrack, folder: Path) -> dict:
    stems = track.load(STFT.sample_rate, 1)
    peaks = {}
    for stem in STEMS:
        spec = audio.stft(stems[stem][0], STFT)
        save_npy(folder / f"{stem}.npy", spec)
        peaks[stem] = float(np.abs(spec).max())
    n_samples = int(stems["mixture"].shape[-1])
    return {"name": track.name, "split": track.split, "n_samples": n_samples, "n_frames": STFT.n_frames(n_samples),
            # The original normalises each track by the largest STFT magnitude over all its stems.
            "max_magnitude": max(peaks.values()), "stem_max_magnitude": peaks}


def jobs(tracks: list[MusicTrack]) -> list[TrackJob]:
    out = []
    for track in tracks:
        files = tuple(dict.fromkeys(track.stem_path(s) for s in STEMS))
        fingerprint = {"name": track.name, "split": track.split, "stft": [STFT.sample_rate, STFT.n_fft, STFT.hop]}
        out.append(TrackJob(f"tracks/{folder_name(track.name)}", fingerprint, files,
                            functools.partial(write_track, track)))
    folders = [j.folder for j in out]
    if len(set(folders)) != len(folders):
        raise ValueError("two track names map to the same folder name; rename one of them")
    return out
