"""Settings of ``python -m cunet.train``: one typed config, presets, saved in every run folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, Literal

from ..config import check_choice
from ..models.config import MixtureLevel, ModelConfig

Optimizer = Literal["adam", "sgd"]  # adam (C-U-Net), sgd (Y-Net)
MixedPrecision = Literal["none", "float16", "bfloat16"]  # compute dtype; variables and losses stay float32
Strategy = Literal["default", "mirrored", "multiworker"]  # see cunet/train/distribute.py

DEFAULT_STORES = {
    "music": Path("cunet_data/stores/synthetic/musdb"),
    "singing": Path("cunet_data/stores/synthetic/acappella"),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run is made of: the model, the store, the optimizer and its schedule, the
    augmentations and the device placement. Saved as the run folder's ``config.json`` (the command records the
    store's path resolved); running again with a config that describes the same run resumes it (see
    :func:`cunet.train.run_folder.same_run`).

    ``preset`` records the preset whose values the command started from (``small`` or ``paper``); the fields
    are what the run uses. ``beta_1`` is Adam's and ``momentum`` SGD's. The early stopping and learning-rate
    schedule watch the validation loss: ``early_stopping_patience`` and ``reduce_lr_patience`` count epochs
    without an improvement of ``min_delta``, after which training stops or the learning rate is multiplied by
    ``reduce_lr_factor`` (down to ``min_learning_rate``). ``steps_per_epoch`` batches of ``batch_size``
    examples (the global batch) make an epoch.

    Raises:
        ValueError: an empty target, an unknown optimizer, precision, mixture level or strategy,
            ``silent_target_prob`` outside [0, 1], or a batch size, step count or epoch count below 1.
    """

    model: ModelConfig = ModelConfig()
    preset: str = "small"
    store: str | None = None  # default: the embedded dataset's store for this kind of model
    run_dir: str | None = None  # default: runs/<model name>
    target: str = "vocals"  # the source a dedicated U-Net learns: one of the store's (checked against it)
    seed: int = 0
    batch_size: int = 8
    steps_per_epoch: int = 16
    epochs: int = 4
    optimizer: Optimizer = "adam"  # adam (C-U-Net) or sgd (Y-Net)
    learning_rate: float = 1e-3
    beta_1: float = 0.5
    momentum: float = 0.8
    weight_decay: float = 0.0
    early_stopping_patience: int = 30
    reduce_lr_patience: int = 15
    reduce_lr_factor: float = 0.5
    min_learning_rate: float = 1e-5
    min_delta: float = 1e-5
    # C-U-Net augmentations, each drawn per sample (the original's PROGRESSIVE and AUG)
    gain_prob: float = 0.25  # per active source: the condition value p ~ U(0,1) scales the target only
    remix_prob: float = 0.25  # the inactive sources come from other training tracks
    # In stores whose tracks lack some sources: how often a condition is drawn from a track holding none of its
    # sources, teaching silence (1 in 10: enough to learn to return nothing, few enough not to teach "mostly
    # silent"). Stores whose tracks hold every source (MUSDB18) never draw one.
    silent_target_prob: float = 0.1
    # Y-Net-g landmarks: another face tracker's points are not the store's. Each training clip moves every point
    # by its own offset for the whole clip (drawn with this standard deviation, in pixels of the 96x128 crop: a
    # tracker places a jaw or a brow point a few pixels from where another does) and by a fresh jitter every
    # frame (a tracker's noise). 0: the store's points as they are.
    landmark_offset_px: float = 0.0
    landmark_jitter_px: float = 0.0
    # A run folder whose trained weights start this run instead of random ones (fine-tuning); its model config
    # must be this run's.
    init_from: str | None = None
    # Y-Net mixtures
    second_singer_prob: float = 0.5  # a second singer from another clip joins the mixture
    remix: bool = True  # mixtures have 3 slots (voice, accompaniment, second singer), as the "r" models
    loudness: tuple[float, ...] = (1.0,)  # target voice RMS over accompaniment RMS, drawn uniformly
    # The level of the network's input mixture: "peak" divides each clip by its own peak, which a separator
    # computes from any user's file; "slots" divides by the number of mixture slots, as the original did,
    # which only matches mixtures built at the training level.
    mixture_level: MixtureLevel = "peak"
    # What a config.json saved before a field existed meant by it (config.load reads it so): a run trained
    # over the mixture slots must resume so, not switch rules under its checkpoint.
    SAVED_BEFORE: ClassVar[dict] = {"mixture_level": "slots"}
    mixed_precision: MixedPrecision = "none"  # none, float16 or bfloat16 compute (variables and losses stay float32)
    strategy: Strategy = "default"  # default, mirrored or multiworker: see cunet/train/distribute.py

    def __post_init__(self):
        if not self.target:
            raise ValueError("target must name a source of the store")
        if not 0 <= self.silent_target_prob <= 1:
            raise ValueError(f"silent_target_prob must be in [0, 1], got {self.silent_target_prob}")
        for name, literal in (
            ("optimizer", Optimizer),
            ("mixed_precision", MixedPrecision),
            ("mixture_level", MixtureLevel),
            ("strategy", Strategy),
        ):
            check_choice(name, getattr(self, name), literal)
        for name in ("landmark_offset_px", "landmark_jitter_px"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 pixels, got {getattr(self, name)}")
        for name in ("batch_size", "steps_per_epoch", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def loss_sources(self) -> float:
        """The Y-Net loss's n_sources: how many times the network's input mixture fits in the true one."""
        return 1.0 if self.mixture_level == "peak" else (3.0 if self.remix else 2.0)

    @property
    def store_kind(self) -> str:
        return "singing" if self.model.model == "ynet" else "music"

    @property
    def store_path(self) -> Path:
        return Path(self.store) if self.store else DEFAULT_STORES[self.store_kind]

    @property
    def run_name(self) -> str:
        m = self.model
        if m.model == "unet":
            return f"unet-{self.target}"
        if m.model == "cunet":
            return f"cunet-{m.film}-{m.control}"
        return f"ynet-{m.depth}-{m.visual}"

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.run_name


def preset(name: str, model: str) -> dict:
    """Field values of a preset for a kind of model (``--set`` and flags override them)."""
    if name == "paper":
        if model == "ynet":  # Montesinos et al.: SGD, batch 10, 2000 iterations an epoch, best by val loss
            return {
                "optimizer": "sgd",
                "learning_rate": 0.01,
                "momentum": 0.8,
                "weight_decay": 1e-5,
                "batch_size": 10,
                "steps_per_epoch": 2000,
                "epochs": 2000,
                "early_stopping_patience": 2000,
                "reduce_lr_patience": 2000,
                "model.depth": "paper",
            }
        # Meseguer-Brocal & Peeters (the repository's final settings)
        return {
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "beta_1": 0.5,
            "batch_size": 64,
            "steps_per_epoch": 2048,
            "epochs": 1000,
            "early_stopping_patience": 30,
            "reduce_lr_patience": 15,
            "min_learning_rate": 1e-5,
        }
    if name == "small":  # minutes on a CPU, for the embedded dataset
        # The video ResNet at a quarter of its channels on 4x-strided crops (~1/60 of its arithmetic: a step of 4
        # clips went from 45 s to 0.8 s on 2 cores); 256 steps, a few minutes for each visual front end.
        if model == "ynet":
            return {
                "optimizer": "adam",
                "learning_rate": 1e-3,
                "beta_1": 0.9,
                "batch_size": 4,
                "steps_per_epoch": 16,
                "epochs": 16,
                "model.widths": [8, 16, 32, 64],
                "model.video_widths": [16, 32, 64],
                "model.video_stride": 4,
            }
        # Measured on the embedded default store (README, "What the main command prints"): half-width networks
        # (a quarter of the arithmetic) for 448 steps of 8; the complex-FiLM, cnn-control C-U-Net, the variant that
        # separated best at this budget, is 10.2 to 14.4 dB above the mixture on every target after these 3584
        # examples (4.2 to 10.5 after 896, 8.5 to 12.7 after 1792), and the main command takes 2.5 minutes.
        music = {
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "beta_1": 0.5,
            "batch_size": 8,
            "steps_per_epoch": 16,
            "epochs": 28,
            "model.first_filters": 8,
        }
        return {**music, "model.film": "complex", "model.control": "cnn"} if model == "cunet" else music
    raise ValueError(f"unknown preset {name!r}; choose paper or small")
