"""Acappella clips to the Y-Net store: waveforms (the model mixes on the fly), frames and landmarks.

Per clip: ``voice.npy`` float32 (samples,) at 16384 Hz, ``frames.npy`` uint8 (T, 128, 96, 3) and
``landmarks.npy`` int16 (T, 68, 2). Per accompaniment clip: ``audio.npy`` float32 (samples,).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets.acappella import SAMPLE_RATE, AccompanimentClip, SingingSample
from ..errors import InputError
from ..fileio import load_npy, save_npy
from .spectrogram import folder_name
from .store import TrackJob


def write_sample(sample: SingingSample, n_frames: int, folder: Path) -> dict:
    voice = sample.load_audio()
    frames = load_npy(sample.frames_path)
    marks = load_npy(sample.landmarks_path)
    if len(frames) != n_frames:
        raise InputError(sample.frames_path, "changed while preprocessing")
    save_npy(folder / "voice.npy", voice)
    save_npy(folder / "frames.npy", frames)
    save_npy(folder / "landmarks.npy", np.asarray(marks).astype(np.int16))
    return {"name": sample.id, "split": sample.split, "language": sample.language, "gender": sample.gender,
            "n_samples": int(len(voice)), "n_frames": int(n_frames),
            "rms": float(np.sqrt(np.mean(voice.astype(np.float64) ** 2)))}


def write_accompaniment(clip: AccompanimentClip, folder: Path) -> dict:
    x = audio.read(clip.path, SAMPLE_RATE, 1)[0][0]
    save_npy(folder / "audio.npy", x)
    return {"name": clip.name, "split": clip.split, "category": clip.category, "n_samples": int(len(x)),
            "rms": float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))}


def sample_jobs(samples: list[tuple[SingingSample, int]]) -> list[TrackJob]:
    return [TrackJob(f"tracks/{folder_name(s.id)}", {"id": s.id, "split": s.split, "rate": SAMPLE_RATE},
                     (s.audio_path, s.frames_path, s.landmarks_path), functools.partial(write_sample, s, n_frames))
            for s, n_frames in samples]


def accompaniment_jobs(clips: list[AccompanimentClip]) -> list[TrackJob]:
    return [TrackJob(f"accompaniment/{c.split}/{folder_name(c.category)}/{folder_name(c.name)}",
                     {"clip": f"{c.category}/{c.path.name}", "split": c.split, "rate": SAMPLE_RATE},
                     (c.path,), functools.partial(write_accompaniment, c)) for c in clips]
