"""The Acappella layout (audio-visual singing voice), and its accompaniment tree.

Layout::

    ROOT/<split>/audio/<Language>/<Gender>/<id>.wav        16384 Hz mono
    ROOT/<split>/frames/<Language>/<Gender>/<id>.npy       uint8 (T, 128, 96, 3) aligned face crops, 25 fps
    ROOT/<split>/landmarks/<Language>/<Gender>/<id>.npy    int (T, 68, 2) (x, y) pixels in the 96x128 crop
    ACC_ROOT/<acc split>/audio/<Category>/<clip>.wav         accompaniment clips, any rate

Splits are ``train``, ``val_seen``, ``test_seen`` and ``test_unseen`` (or ``test_unseen_<lang>_<gender>``).
The accompaniment tree uses AudioSet's names as the original does (``unbalanced_train``, ``eval``,
``test``); the Acappella split names are accepted too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError
from ..fileio import load_npy
from ..singing_input import FPS, FRAME_SHAPE, N_LANDMARKS, SAMPLE_RATE, SAMPLES_PER_FRAME  # noqa: F401
from . import checks

SPLITS = ("train", "val_seen", "test_seen", "test_unseen")
# Where each Acappella split takes its accompaniment from, first match wins.
ACC_SPLITS = {"train": ("unbalanced_train", "train"), "val_seen": ("eval", "val", "val_seen")}
ACC_TEST_SPLITS = ("test",)


@dataclasses.dataclass(frozen=True)
class SingingSample:
    """One solo singing clip: voice, face frames and landmarks of the same video."""

    id: str
    split: str
    language: str
    gender: str
    audio_path: Path
    frames_path: Path
    landmarks_path: Path

    def check(self, min_seconds: float = 0.0) -> tuple[int, int]:
        """Validate headers and shapes without reading the data; return (audio samples, video frames).
        ``min_seconds``: the shortest voice the caller can use."""
        for path in (self.audio_path, self.frames_path, self.landmarks_path):
            if not path.is_file():
                raise InputError(path, f"missing file of sample {self.id!r}")
        frames = load_npy(self.frames_path)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != FRAME_SHAPE:
            raise InputError(
                self.frames_path, f"frames must be uint8 (T, 128, 96, 3), got {frames.dtype} {frames.shape}"
            )
        marks = load_npy(self.landmarks_path)
        if marks.ndim != 3 or marks.shape[1:] != (N_LANDMARKS, 2) or marks.dtype.kind not in "iuf":
            raise InputError(
                self.landmarks_path, f"landmarks must be (T, 68, 2) numbers, got {marks.dtype} {marks.shape}"
            )
        if marks.shape[0] != frames.shape[0]:
            raise InputError(
                self.landmarks_path,
                f"{marks.shape[0]} landmark frames but {frames.shape[0]} video frames in {self.frames_path.name}",
            )
        meta = checks.header(self.audio_path)
        checks.require_duration(self.audio_path, meta.frames, meta.samplerate, min_seconds, "a voice")
        n_samples = round(meta.frames * SAMPLE_RATE / meta.samplerate)
        if abs(frames.shape[0] - n_samples / SAMPLES_PER_FRAME) > 1.0:
            raise InputError(
                self.frames_path,
                f"{frames.shape[0]} frames disagree with the audio "
                f"({meta.frames / meta.samplerate:.2f} s = "
                f"{n_samples / SAMPLES_PER_FRAME:.1f} frames at 25 fps)",
            )
        return n_samples, frames.shape[0]

    def load_audio(self) -> np.ndarray:
        """The voice as float32 (samples,) at 16384 Hz."""
        return checks.read(self.audio_path, SAMPLE_RATE, 1)[0]


@dataclasses.dataclass(frozen=True)
class AccompanimentClip:
    """One accompaniment clip: its name (the file's stem), the accompaniment split folder it is in (an AudioSet
    name such as ``unbalanced_train``), its category folder and its file."""

    name: str
    split: str
    category: str
    path: Path


def _split_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p.name in SPLITS or p.name.startswith("test_unseen")))


def scan(root: str | Path) -> list[SingingSample]:
    """Every sample of an Acappella tree, in every split folder found, sorted by split then path; only the
    audio files are listed, the frames and landmarks paths are where they should be (see
    :meth:`SingingSample.check`).

    Raises:
        InputError: the folder is missing or holds no split, a split has no audio, or an id repeats across splits.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    splits = _split_dirs(root)
    if not splits:
        raise InputError(
            root,
            f"not an Acappella layout: expected one of {', '.join(SPLITS)} holding audio/<Language>/<Gender>/<id>.wav",
        )
    samples = []
    for split_dir in splits:
        audio_dir = split_dir / "audio"
        wavs = sorted(audio_dir.glob("*/*/*.wav"))
        if not wavs:
            raise InputError(audio_dir, "no audio found (expected audio/<Language>/<Gender>/<id>.wav)")
        for wav in wavs:
            rel = wav.relative_to(audio_dir).with_suffix(".npy")
            # Names go into the manifest and messages (printable); paths keep the files' own bytes.
            samples.append(
                SingingSample(
                    id=checks.printable(wav.stem),
                    split=split_dir.name,
                    language=checks.printable(rel.parts[0]),
                    gender=checks.printable(rel.parts[1]),
                    audio_path=wav,
                    frames_path=split_dir / "frames" / rel,
                    landmarks_path=split_dir / "landmarks" / rel,
                )
            )
    ids = [s.id for s in samples]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(root, f"sample ids must be unique across splits; repeated: {dupes[:5]}")
    return samples


def acc_split_for(split: str, acc_root: Path) -> Path:
    """The accompaniment folder that feeds an Acappella split."""
    candidates = ACC_SPLITS.get(split, ACC_TEST_SPLITS + (split,))
    for name in candidates:
        if (acc_root / name / "audio").is_dir():
            return acc_root / name / "audio"
    raise InputError(
        acc_root,
        f"no accompaniment for split {split!r}: expected one of "
        f"{', '.join(c + '/audio/<Category>/' for c in candidates)}",
    )


def scan_accompaniment(
    acc_root: str | Path, splits: list[str], min_seconds: float = 0.0
) -> tuple[list[AccompanimentClip], dict[str, str]]:
    """Clips of the accompaniment folders feeding ``splits``, and which folder feeds which split;
    every clip's header is checked, and its length against ``min_seconds``."""
    acc_root = Path(acc_root)
    if not acc_root.is_dir():
        raise InputError(acc_root, "accompaniment folder not found")
    clips: list[AccompanimentClip] = []
    feeds: dict[str, str] = {}
    for split in splits:
        folder = acc_split_for(split, acc_root)
        feeds[split] = folder.parent.name
        if folder.parent.name in {c.split for c in clips}:
            continue
        found = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in audio.LOSSLESS_EXTENSIONS)
        if not found:
            raise InputError(folder, "no accompaniment clips (expected <Category>/<clip>.wav)")
        for p in found:
            meta = checks.header(p)
            checks.require_duration(p, meta.frames, meta.samplerate, min_seconds, "an accompaniment clip")
        clips += [
            AccompanimentClip(
                name=checks.printable(p.stem),
                split=folder.parent.name,
                category=checks.printable(p.parent.name),
                path=p,
            )
            for p in found
        ]
    return clips, feeds
