"""Settings of ``python -m cunet.preprocess``; saved in every store's manifest."""

from __future__ import annotations

import dataclasses

from ..datasets.acappella import CLIP_FRAMES, CLIP_SAMPLES

DATASETS = ("synthetic", "musdb", "acappella")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    dataset: str = "synthetic"
    root: str | None = None  # dataset folder; for "synthetic", where the embedded dataset is (re)generated
    acc_root: str | None = None  # accompaniment tree (acappella); defaults to ROOT/../accompaniment
    seed: int = 0  # synthetic data and the seeded validation split
    synthetic_size: str = "default"
    valid_tracks: tuple[str, ...] = ()  # held-out train tracks; empty: MUSDB18's official ones, else a fraction
    valid_fraction: float = 0.15
    add_zero: bool = False  # also index the all-zeros condition (silence wanted)
    add_all: bool = False  # also index the all-ones condition (the whole mixture wanted)
    patch_frames: int = 128  # C-U-Net patch length in STFT frames (4 s at 8192 Hz, hop 256)
    train_hop: int = 1  # frames between training patch starts; validation uses one patch
    video_frames: int = CLIP_FRAMES  # Y-Net clip length in video frames (4 s at 25 fps)
    clip_samples: int = CLIP_SAMPLES  # Y-Net clip length in samples at 16384 Hz

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.dataset != "synthetic" and not self.root:
            raise ValueError(f"--dataset {self.dataset} needs --root PATH")
        for name in ("patch_frames", "train_hop", "video_frames", "clip_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
