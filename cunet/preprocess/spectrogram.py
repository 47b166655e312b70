"""Music tracks to the C-U-Net store: one complex64 STFT ``.npy`` (513, frames) per stem, mono at 8192 Hz."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets.musdb import SOURCES, STEMS, MusicTrack
from ..errors import InputError
from ..fileio import save_npy
from .store import TrackJob, refuse_shared_folders

STFT = audio.CUNET_STFT
# The shortest track the store takes: one STFT window at the store's rate (0.125 s). Shorter tracks hold
# no frame of their own, only padding; tracks shorter than a patch are kept (test tracks of any length are
# separated and scored) and listed as giving no training patches.
MIN_SECONDS = STFT.n_fft / STFT.sample_rate
# A mixture further from the sum of its stems than this (relative to the mixture's energy) is reported.
# Rounding leaves about -140 dB and 16-bit quantisation of five separately stored files about -94 dBFS
# (-74 dB for a mixture at -20 dBFS RMS); a mixture that is a different mix or master is far above.
MIXTURE_DIFFERENCE_DB = -40.0


def folder_name(name: str) -> str:
    """A portable folder name for a track title (MUSDB titles hold spaces, '&', apostrophes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "track"


def mixture_difference_db(stems: dict[str, np.ndarray]) -> float | None:
    """How far the mixture is from the sum of the sources: the difference's energy relative to the
    mixture's, in dB (None when they are equal). Measured on what the store holds (8192 Hz mono): a
    difference that only lies above 4 kHz or between channels never reaches the model."""
    # float32 throughout (a few ms for a song): its rounding (about -140 dB) is far below the threshold
    mix = stems["mixture"].ravel()
    diff = mix.copy()
    for source in SOURCES:
        diff -= stems[source].ravel()
    e_diff = float(np.dot(diff, diff))
    if e_diff == 0:
        return None
    e_mix = float(np.dot(mix, mix))
    if e_mix == 0:  # a silent mixture over sounding stems: the difference is all there is
        return 0.0
    return 10 * np.log10(e_diff / e_mix)


def write_track(track: MusicTrack, folder: Path) -> dict:
    stems = track.load(STFT.sample_rate, 1)
    n_samples = int(stems["mixture"].shape[-1])
    if n_samples < STFT.n_fft:  # .stem.mp4 lengths are only known once decoded
        raise InputError(track.path, f"too short: {n_samples} samples at {STFT.sample_rate} Hz once decoded; a "
                                     f"track needs at least {STFT.n_fft} ({MIN_SECONDS} s), one STFT frame")
    peaks = {}
    for stem in STEMS:
        spec = audio.stft(stems[stem][0], STFT)
        peak = float(np.abs(spec).max())
        if not np.isfinite(peak):  # finite samples so large that their spectrum overflows float32
            raise InputError(track.stem_path(stem), "holds samples too large for a float32 spectrogram "
                                                    f"(up to {float(np.abs(stems[stem]).max()):.3g})")
        save_npy(folder / f"{stem}.npy", spec)
        peaks[stem] = peak
    difference = mixture_difference_db(stems)
    return {"name": track.name, "split": track.split, "n_samples": n_samples, "n_frames": STFT.n_frames(n_samples),
            # The original normalises each track by the largest STFT magnitude over all its stems.
            "max_magnitude": max(peaks.values()), "stem_max_magnitude": peaks,
            "mixture_difference_db": None if difference is None else round(float(difference), 2)}


def jobs(tracks: list[MusicTrack]) -> list[TrackJob]:
    out = []
    for track in tracks:
        files = tuple(dict.fromkeys(track.stem_path(s) for s in STEMS))
        fingerprint = {"name": track.name, "split": track.split, "stft": [STFT.sample_rate, STFT.n_fft, STFT.hop]}
        out.append(TrackJob(f"tracks/{folder_name(track.name)}", fingerprint, files,
                            functools.partial(write_track, track)))
    refuse_shared_folders(out, [t.path for t in tracks])
    return out
