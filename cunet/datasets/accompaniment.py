"""The embedded dataset's accompaniment tree: AudioSet-like clips of four categories (drums, bass and chords, a
choir, whistling) in the layout the Acappella reader expects beside its singers (see ``synthetic.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import audio
from . import acappella, band, voice
from .instruments import midi_number
from .sizes import Size

CATEGORIES = ("Backgroundmusic", "Drum", "Choir", "Whistling")
ACC_SPLITS = {"unbalanced_train": "train", "eval": "val_seen", "test": "test"}  # AudioSet's names -> Acappella's


def accompaniment_clip(seed: int, category: str, split: str, index: int, seconds: float) -> np.ndarray:
    """Accompaniment clip ``index`` of a category and an accompaniment split (a key of :data:`ACC_SPLITS`):
    float32 mono at 16384 Hz, peaking at 0.5. Drum is drums, Backgroundmusic bass and chords, Choir three
    singers, Whistling a whistled tune with vibrato."""
    rng = np.random.default_rng([seed, 4, CATEGORIES.index(category), list(ACC_SPLITS).index(split), index])
    sr = acappella.SAMPLE_RATE
    song = band.Song.random(rng, seconds)
    if category == "Drum":
        x = band.drums(song, sr, rng).mean(0)
    elif category == "Backgroundmusic":
        x = band.bass(song, sr, rng).mean(0) + band.chords(song, sr, rng).mean(0)
    elif category == "Choir":
        x = 0
        for part in range(3):
            singer = voice.Singer.random(rng, f"choir{part}", ("Female", "Male")[part % 2])
            syl = voice.melody(rng, seconds, song.tempo / 2, song.scale(), midi_number(singer.f0))
            x = x + voice.sing(singer, syl, seconds, sr, rng)[0]
    else:  # Whistling: a pure tone with vibrato, one note a syllable
        syl = voice.melody(rng, seconds, song.tempo, song.scale(), 84)
        ctl = voice.controls(syl, seconds)
        t = np.arange(int(seconds * sr)) / sr
        semis = np.interp(t, np.arange(len(ctl["pitch"])) / voice.CONTROL_RATE, ctl["pitch"])
        f0 = 440 * 2 ** ((semis + 0.3 * np.sin(2 * np.pi * 5.5 * t) - 69) / 12)
        x = np.sin(2 * np.pi * np.cumsum(f0) / sr) * np.interp(
            t, np.arange(len(ctl["env"])) / voice.CONTROL_RATE, ctl["env"]
        )
    return (0.5 * x / max(1e-9, np.abs(x).max())).astype(np.float32)


def acc_plan(size: Size) -> list[tuple[str, str, int, float]]:
    """(split, category, clip, seconds) of every accompaniment clip: ``size.acc_clips`` per category for
    training, one for validation and two for testing."""
    counts = {
        "unbalanced_train": (size.acc_clips, size.clip_seconds),
        "eval": (1, size.eval_seconds),
        "test": (2, size.eval_seconds),
    }
    return [(split, cat, i, sec) for split, (n, sec) in counts.items() for cat in CATEGORIES for i in range(n)]


def write_acc(root: Path, seed: int, item: tuple[str, str, int, float]) -> None:
    """Write one clip of :func:`acc_plan` under ``root/accompaniment``."""
    split, category, index, seconds = item
    x = accompaniment_clip(seed, category, split, index, seconds)
    path = root / "accompaniment" / split / "audio" / category / f"{category.lower()}_{index:03d}.wav"
    audio.write(path, x, acappella.SAMPLE_RATE, "PCM_16")
