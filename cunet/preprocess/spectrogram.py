"""Music tracks to the C-U-Net store: one complex64 STFT ``.npy`` (513, frames) per stem, mono at 8192 Hz.

A MUSDB18 track stores its five files as they are (mixture and four sources); a track of a multi-stem
layout (:mod:`cunet.datasets.stems`) stores its mixture and one array per source of the store's selection,
each the sum of the stems the selection gives it (silence where the track holds none of them).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets.musdb import SOURCES, STEMS, MusicTrack
from ..datasets.stems import MIXTURE, StemTrack, present_sources, source_signals
from ..errors import InputError
from ..fileio import save_npy
from .jobs import TrackJob, refuse_shared_folders

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


def mixture_difference_db(stems: dict[str, np.ndarray], parts=SOURCES) -> float | None:
    """How far the mixture is from the sum of the sources: the difference's energy relative to the
    mixture's, in dB (None when they are equal). Measured on what the store holds (8192 Hz mono): a
    difference that only lies above 4 kHz or between channels never reaches the model.

    Args:
        stems: ``{name: (1, samples)}`` holding ``"mixture"`` and every name of ``parts``.
        parts: what the mixture should be the sum of (MUSDB18's four sources, or a track's every stem).

    Returns:
        The difference in dB, or None when there is none."""
    # float32 throughout (a few ms for a song): its rounding (about -140 dB) is far below the threshold
    mix = stems["mixture"].ravel()
    diff = mix.copy()
    for source in parts:
        diff -= stems[source].ravel()
    e_diff = float(np.dot(diff, diff))
    if e_diff == 0:
        return None
    e_mix = float(np.dot(mix, mix))
    if e_mix == 0:  # a silent mixture over sounding stems: the difference is all there is
        return 0.0
    return 10 * np.log10(e_diff / e_mix)


def _write_stems(stems: dict[str, np.ndarray], names, folder: Path, whole: Path, path_of) -> dict:
    """One STFT array per name of ``names`` (``path_of(name)``: the file a bad one is blamed on, ``whole``
    the track's); returns the track's lengths and peaks (the manifest's record)."""
    n_samples = int(stems["mixture"].shape[-1])
    if n_samples < STFT.n_fft:  # .stem.mp4 lengths are only known once decoded
        raise InputError(
            whole,
            f"too short: {n_samples} samples at {STFT.sample_rate} Hz once decoded; a "
            f"track needs at least {STFT.n_fft} ({MIN_SECONDS} s), one STFT frame",
        )
    peaks = {}
    for stem in names:
        spec = audio.stft(stems[stem][0], STFT)
        peak = float(np.abs(spec).max())
        if not np.isfinite(peak):  # finite samples so large that their spectrum overflows float32
            raise InputError(
                path_of(stem),
                f"holds samples too large for a float32 spectrogram (up to {float(np.abs(stems[stem]).max()):.3g})",
            )
        save_npy(folder / f"{stem}.npy", spec)
        peaks[stem] = peak
    # The original normalises each track by the largest STFT magnitude over all its stems.
    return {
        "n_samples": n_samples,
        "n_frames": STFT.n_frames(n_samples),
        "max_magnitude": max(peaks.values()),
        "stem_max_magnitude": peaks,
    }


def _rounded(difference: float | None) -> float | None:
    return None if difference is None else round(float(difference), 2)


def write_track(track: MusicTrack, folder: Path) -> dict:
    """A MUSDB18 track's mixture and four sources into ``folder``, one STFT array each.

    Returns:
        The track's record for the manifest: name, split, lengths, STFT peaks and how far the mixture is from
        the sum of the sources (:func:`mixture_difference_db`, rounded)."""
    stems = track.load(STFT.sample_rate, 1)
    meta = _write_stems(stems, STEMS, folder, track.path, track.stem_path)
    return {
        "name": track.name,
        "split": track.split,
        **meta,
        "mixture_difference_db": _rounded(mixture_difference_db(stems)),
    }


def write_stem_track(track: StemTrack, selection: dict[str, tuple[str, ...]], folder: Path) -> dict:
    """A multi-stem track's mixture and sources (``selection``: ``{source: stems}``) into ``folder``.

    Returns:
        The track's record: as a MUSDB18 track's, plus ``sources_present``, the sources it holds a stem of
        (the loader teaches silence for the others only at its own rate)."""
    loaded = track.load(STFT.sample_rate, 1)
    signals = source_signals(loaded, selection)
    meta = _write_stems(
        signals,
        (MIXTURE, *selection),
        folder,
        track.path,
        lambda name: (track.mixture or track.path) if name == MIXTURE else track.path,
    )
    # A mixture on disk is compared with the sum of every stem the track holds (stems no source names still
    # sound in it); one that is that sum by construction has no difference to report.
    difference = None if track.mixture is None else mixture_difference_db(loaded, track.present)
    return {
        "name": track.name,
        "split": track.split,
        **meta,
        "mixture_difference_db": _rounded(difference),
        "sources_present": list(present_sources(track, selection)),
    }


def jobs(tracks: list[MusicTrack]) -> list[TrackJob]:
    """One job per MUSDB18 track (its wav files, or its one .stem.mp4, are what its fingerprint watches).

    Raises:
        InputError: two tracks whose names map to one store folder.
    """
    out = []
    for track in tracks:
        files = tuple(dict.fromkeys(track.stem_path(s) for s in STEMS))
        fingerprint = {"name": track.name, "split": track.split, "stft": [STFT.sample_rate, STFT.n_fft, STFT.hop]}
        out.append(
            TrackJob(f"tracks/{folder_name(track.name)}", fingerprint, files, functools.partial(write_track, track))
        )
    refuse_shared_folders(out, [t.path for t in tracks])
    return out


def stem_jobs(tracks: list[StemTrack], selection: dict[str, tuple[str, ...]]) -> list[TrackJob]:
    """One job per multi-stem track; the selection is part of each track's fingerprint, so a re-run with
    other sources rewrites the tracks instead of keeping arrays of the old ones."""
    out = []
    chosen = {source: list(stems) for source, stems in selection.items()}
    for track in tracks:
        fingerprint = {
            "name": track.name,
            "split": track.split,
            "sources": chosen,
            "stft": [STFT.sample_rate, STFT.n_fft, STFT.hop],
        }
        out.append(
            TrackJob(
                f"tracks/{folder_name(track.name)}",
                fingerprint,
                track.files,
                functools.partial(write_stem_track, track, selection),
            )
        )
    refuse_shared_folders(out, [t.path for t in tracks])
    return out
