"""Settings of ``python -m cunet.preprocess``; saved in every store's manifest."""

from __future__ import annotations

import dataclasses

from ..singing_input import CLIP_FRAMES, CLIP_SAMPLES

DATASETS = ("synthetic", "musdb", "acappella", "moisesdb", "slakh", "folders", "videos")
# The layouts read through cunet.datasets.stems, whose sources a store chooses (--sources, --rest, --group).
STEM_DATASETS = ("moisesdb", "slakh", "folders")
# Fields added after stores were first written: left out of a store's record while they hold their defaults
# (record()), so that a store made without them is byte for byte what earlier versions wrote.
LATER_FIELDS = ("sources", "rest", "groups", "combinations", "test_tracks", "test_fraction")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How a dataset becomes a store: the dataset and its folders, the validation and test split, the sources
    and conditions of a multi-stem store and the patch and clip sizes. Recorded (see :meth:`record`) in the
    store's ``preprocess_config.json`` and in its manifest.

    ``dataset`` is one of :data:`DATASETS`; every dataset but ``synthetic`` needs ``root``.
    ``synthetic_size`` is a key of :data:`cunet.datasets.sizes.SIZES`. ``valid_fraction`` and ``test_fraction``
    are in [0, 1).

    Raises:
        ValueError: an unknown dataset, a missing root, a size or fraction out of range, or multi-stem settings
            given for a layout that has no choice of sources.
    """

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
    # Multi-stem layouts (STEM_DATASETS): which sources the store holds, in condition order (empty: every stem
    # of the dataset, a group in place of its members); the source collecting the stems not named; sources
    # defined as sums of stems ("keys=piano+other_keys").
    sources: tuple[str, ...] = ()
    rest: str = "other"
    groups: tuple[str, ...] = ()
    # Conditions trained as such besides the one-hots: "accompaniment=bass+drums+other" (the target is the sum).
    combinations: tuple[str, ...] = ()
    # MoisesDB has no official split: the test tracks by id, or a seeded fraction of all.
    test_tracks: tuple[str, ...] = ()
    test_fraction: float = 0.2

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
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.dataset not in STEM_DATASETS:
            chosen = [
                f"--{name.replace('_', '-')}" for name in ("sources", "groups", "test_tracks") if getattr(self, name)
            ]
            chosen += ["--rest"] if self.rest != "other" else []
            if chosen:
                hint = (
                    " (read a MUSDB18-HQ folder with --dataset folders to choose its sources)"
                    if self.dataset in ("musdb", "synthetic")
                    else ""
                )
                raise ValueError(
                    f"{', '.join(chosen)} apply to --dataset {', '.join(STEM_DATASETS)}, not {self.dataset}{hint}"
                )

    def record(self) -> dict:
        """The config as a store records it: :data:`LATER_FIELDS` only where they differ from their defaults.

        Returns:
            ``{field: value}`` (JSON-able); :func:`cunet.config.from_dict` reads it back whole."""
        values = dataclasses.asdict(self)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in LATER_FIELDS:
            if values[name] == defaults[name]:
                del values[name]
        return values
