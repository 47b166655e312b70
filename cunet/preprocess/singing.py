"""Acappella clips to the Y-Net store: waveforms (the model mixes on the fly), frames and landmarks.

Per clip: ``voice.npy`` float32 (samples,) at 16384 Hz, ``frames.npy`` uint8 (T, 128, 96, 3) and
``landmarks.npy`` int16 (T, 68, 2). Per accompaniment clip: ``audio.npy`` float32 (samples,).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets import checks
from ..datasets.acappella import AccompanimentClip, SingingSample
from ..errors import InputError
from ..fileio import load_npy, save_npy
from ..singing_input import SAMPLE_RATE
from .jobs import TrackJob, refuse_shared_folders
from .spectrogram import folder_name

# The shortest voice or accompaniment clip the store takes: one window of the Y-Net's STFT (0.06 s).
MIN_SECONDS = audio.YNET_STFT.n_fft / audio.YNET_STFT.sample_rate


def write_sample(sample: SingingSample, n_frames: int, folder: Path) -> dict:
    """One Acappella clip's voice, frames and landmarks (as int16) into ``folder``.

    Args:
        sample: the clip.
        n_frames: its video frames when it was checked (a file that changed since is refused).
        folder: the track's temporary folder.

    Returns:
        The clip's record for the manifest: names, split, lengths and the voice's RMS.

    Raises:
        InputError: the frames changed since the check, or a landmark is NaN or infinite.
    """
    voice = sample.load_audio()
    frames = load_npy(sample.frames_path)
    marks = load_npy(sample.landmarks_path)
    if len(frames) != n_frames:
        raise InputError(sample.frames_path, "changed while preprocessing")
    if marks.dtype.kind == "f" and not np.isfinite(marks).all():  # NaN would become an arbitrary int16
        frame = int(np.flatnonzero(~np.isfinite(marks).all(axis=(1, 2)))[0])
        raise InputError(sample.landmarks_path, f"holds landmarks that are NaN or infinite (first in frame {frame})")
    save_npy(folder / "voice.npy", voice)
    save_npy(folder / "frames.npy", frames)
    save_npy(folder / "landmarks.npy", np.asarray(marks).astype(np.int16))
    return {
        "name": sample.id,
        "split": sample.split,
        "language": sample.language,
        "gender": sample.gender,
        "n_samples": int(len(voice)),
        "n_frames": int(n_frames),
        "rms": float(np.sqrt(np.mean(voice.astype(np.float64) ** 2))),
    }


def write_accompaniment(clip: AccompanimentClip, folder: Path) -> dict:
    """One accompaniment clip, mono at 16384 Hz, into ``folder``; returns its record for the manifest (names,
    split, length and RMS)."""
    x = checks.read(clip.path, SAMPLE_RATE, 1)[0]
    save_npy(folder / "audio.npy", x)
    return {
        "name": clip.name,
        "split": clip.split,
        "category": clip.category,
        "n_samples": int(len(x)),
        "rms": float(np.sqrt(np.mean(x.astype(np.float64) ** 2))),
    }


def sample_jobs(samples: list[tuple[SingingSample, int]]) -> list[TrackJob]:
    """One job per Acappella clip, given with its video frames as checked.

    Raises:
        InputError: two clips whose ids map to one store folder.
    """
    jobs = [
        TrackJob(
            f"tracks/{folder_name(s.id)}",
            {"id": s.id, "split": s.split, "rate": SAMPLE_RATE},
            (s.audio_path, s.frames_path, s.landmarks_path),
            functools.partial(write_sample, s, n_frames),
        )
        for s, n_frames in samples
    ]
    refuse_shared_folders(jobs, [s.audio_path for s, _ in samples])
    return jobs


def accompaniment_jobs(clips: list[AccompanimentClip]) -> list[TrackJob]:
    """One job per accompaniment clip, in ``accompaniment/<split>/<category>/<clip>``.

    Raises:
        InputError: two clips of a category whose names map to one store folder.
    """
    jobs = [
        TrackJob(
            f"accompaniment/{c.split}/{folder_name(c.category)}/{folder_name(c.name)}",
            {"clip": f"{c.category}/{checks.printable(c.path.name)}", "split": c.split, "rate": SAMPLE_RATE},
            (c.path,),
            functools.partial(write_accompaniment, c),
        )
        for c in clips
    ]
    # clip.wav and clip.flac, or "a b.wav" and "a_b.wav", would share a folder
    refuse_shared_folders(jobs, [c.path for c in clips])
    return jobs
