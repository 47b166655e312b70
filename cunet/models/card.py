"""What a separator needs to know about a trained model, recorded beside it (``model_card.json``).

Training writes the card next to ``model.keras``: the targets, the condition each target is selected by,
the STFT convention and patch (or clip) shape the network was trained on, and for a Y-Net the number of
mixture slots its training mixtures had (their level) and its visual input. Separators read these from
the card, never from constants of their own. Run folders written before cards existed get one derived
from their ``model_config.json`` and ``config.json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .. import audio
from ..config import check_choice
from ..datasets.musdb import SOURCES
from ..errors import InputError
from ..fileio import load_json, save_json
from ..singing_input import CLIP_FRAMES, CLIP_SAMPLES, FPS
from .config import MixtureLevel, ModelConfig, ModelKind, Visual

CARD_FILE = "model_card.json"
CARD_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a separator needs to know about a trained model, saved as ``model_card.json`` (:data:`CARD_FILE`)
    beside its ``model.keras`` by :func:`save_card` and read by :func:`load_card`.

    ``sample_rate``, ``n_fft`` and ``hop`` are the STFT convention (see :attr:`stft`); a magnitude model's
    patches hold every bin but the Nyquist one, a Y-Net's ``patch_bins`` divide the STFT's bins. Fields of one
    kind of model keep their defaults on the others' cards.

    Raises:
        ValueError: no target, an unknown model or mixture level, or fields that contradict one another.
    """

    model: ModelKind
    targets: tuple[str, ...]  # the stems the model estimates, in order
    sample_rate: int  # the STFT convention the network sees
    n_fft: int
    hop: int
    patch_bins: int  # the network input's frequency bins ...
    patch_frames: int  # ... and STFT frames
    conditions: tuple[str, ...] = ()  # C-U-Net: the source each one-hot condition position selects
    condition_shape: tuple[int, ...] = ()
    # C-U-Net: conditions of several sources it was trained on (--condition), ((name, (source, ...)), ...): a
    # separator gives one when asked by name (--targets accompaniment), its condition the sum of their one-hots
    combinations: tuple = ()
    visual: Visual = "none"  # Y-Net: its visual input
    mixture_slots: int = 0  # Y-Net: its training mixtures had this many parts (voice, accompaniment[, singer])
    mixture_level: MixtureLevel = "slots"  # Y-Net: its input was each clip over its own peak ("peak") or over the slots
    clip_samples: int = 0  # Y-Net: a chunk's samples at sample_rate and its video frames at fps
    clip_frames: int = 0
    fps: int = 0

    def __post_init__(self):
        # read from JSON the pairs are lists: made tuples, so that cards compare equal however they were made
        object.__setattr__(self, "combinations", tuple((str(n), tuple(m)) for n, m in self.combinations))
        if any(s not in self.conditions for _, members in self.combinations for s in members):
            raise ValueError("model card: a combination names a source that is not a condition")
        check_choice("model card: model", self.model, ModelKind)
        if not self.targets:
            raise ValueError("model card: no targets")
        unknown = set(self.targets) - set(self.conditions) if self.model == "cunet" else set()
        if unknown:
            raise ValueError(f"model card: targets {sorted(unknown)} have no condition")
        bins = self.n_fft // 2 + 1
        if self.model != "ynet" and self.patch_bins != bins - 1:
            raise ValueError(
                f"model card: a magnitude model's patches hold every STFT bin but the Nyquist "
                f"one ({bins - 1}), not {self.patch_bins}"
            )
        if self.model == "ynet" and (
            bins % self.patch_bins or min(self.mixture_slots, self.clip_samples, self.clip_frames, self.fps) <= 0
        ):
            raise ValueError(
                "model card: a Y-Net needs patch_bins dividing the STFT's bins and positive "
                "mixture_slots, clip_samples, clip_frames and fps"
            )
        check_choice("model card: mixture_level", self.mixture_level, MixtureLevel)

    @property
    def stft(self) -> audio.StftConfig:
        return audio.StftConfig(self.sample_rate, self.n_fft, self.hop)


def card_for(
    model_cfg: ModelConfig,
    target: str = "vocals",
    remix: bool = True,
    mixture_level: MixtureLevel = "peak",
    sources=None,
    combinations=(),
) -> ModelCard:
    """The card of a model built from ``model_cfg``.

    Args:
        model_cfg: the model's config.
        target: a U-Net's source.
        remix, mixture_level: a Y-Net's training mixtures (3 slots with ``remix``; training's ``mixture_level``).
        sources: a C-U-Net's store's sources, in condition order (its targets); None: MUSDB18's four, what
            every C-U-Net trained before stores had other sources learnt.
        combinations: a C-U-Net's conditions of several sources, ``((name, sources), ...)``.

    Returns:
        The card a separator reads."""
    if model_cfg.model == "ynet":
        stft = audio.YNET_STFT
        return ModelCard(
            "ynet",
            ("vocals",),
            stft.sample_rate,
            stft.n_fft,
            stft.hop,
            patch_bins=stft.n_bins // 2,
            patch_frames=stft.n_frames(CLIP_SAMPLES),
            visual=model_cfg.visual,
            mixture_slots=3 if remix else 2,
            mixture_level=mixture_level,
            clip_samples=CLIP_SAMPLES,
            clip_frames=CLIP_FRAMES,
            fps=FPS,
        )
    stft = audio.CUNET_STFT
    common: dict[str, Any] = dict(  # keyword arguments of ModelCard
        sample_rate=stft.sample_rate,
        n_fft=stft.n_fft,
        hop=stft.hop,
        patch_bins=model_cfg.n_bins,
        patch_frames=model_cfg.n_frames,
    )
    if model_cfg.model == "unet":
        return ModelCard("unet", (target,), **common)
    sources = tuple(SOURCES if sources is None else sources)
    if len(sources) != model_cfg.z_dim:
        raise ValueError(f"a C-U-Net with a condition of {model_cfg.z_dim} needs as many sources, got {list(sources)}")
    return ModelCard(
        "cunet",
        sources,
        conditions=sources,
        condition_shape=model_cfg.condition_shape,
        combinations=tuple(combinations),
        **common,
    )


def save_card(card: ModelCard, folder: str | Path) -> None:
    """Write ``card`` into ``folder`` as :data:`CARD_FILE`, with the card format number :func:`load_card`
    checks."""
    save_json(Path(folder) / CARD_FILE, {"format": CARD_FORMAT, **dataclasses.asdict(card)})


def load_card(folder: str | Path, model_cfg: ModelConfig) -> ModelCard:
    """The card in ``folder``; for a folder from before cards, one derived from its configs."""
    folder = Path(folder)
    path = folder / CARD_FILE
    if path.is_file():
        values = load_json(path)
        if values.pop("format", None) != CARD_FORMAT:
            raise InputError(path, f"unknown model card format (this cunet reads format {CARD_FORMAT})")
        fields = {f.name for f in dataclasses.fields(ModelCard)}
        if set(values) - fields or values.get("model") != model_cfg.model:
            raise InputError(path, f"does not describe the {model_cfg.model} of model_config.json")
        tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
        try:
            return ModelCard(**{**values, **tuples})
        except (TypeError, ValueError) as err:
            raise InputError(path, str(err)) from None
    # Before cards: a U-Net's target and a Y-Net's mixtures are in the training config (read as plain JSON:
    # the models package does not depend on the training stage).
    train: dict = {}
    if (folder / "config.json").is_file():  # {"type": "TrainConfig", "values": {...}}, as cunet.config.save writes
        saved = load_json(folder / "config.json")
        values = saved.get("values") if isinstance(saved, dict) else None
        if not isinstance(values, dict):
            raise InputError(folder / "config.json", "is not a saved training config")
        train = values
    if model_cfg.model == "unet" and "target" not in train:
        raise InputError(folder / "config.json", "is missing: a U-Net's target is recorded there")
    # Runs from before mixture_level divided their mixtures by the slots.
    return card_for(
        model_cfg,
        target=train.get("target", "vocals"),
        remix=bool(train.get("remix", True)),
        mixture_level=train.get("mixture_level", "slots"),
    )
