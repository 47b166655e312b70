"""The typed configuration every model builder takes, saved beside every trained model."""

from __future__ import annotations

import dataclasses
from typing import Literal

from ..config import check_choice, choices

ModelKind = Literal["unet", "cunet", "ynet"]
Film = Literal["simple", "complex"]
Control = Literal["dense", "cnn"]
Visual = Literal["video", "landmarks", "none"]
Depth = Literal["seed", "paper"]  # the keys of DEPTHS
MixtureLevel = Literal["peak", "slots"]  # a Y-Net input's scale: each clip over its own peak, or over the slots
MODELS = choices(ModelKind)
# Y-Net encoder depths: channels per block and pool kind per block ("s" 2x2, "t" frequency only).
DEPTHS = {
    "seed": ((32, 64, 128, 256), "ssss"),  # the 4-block network of the project page's layer listing
    "paper": ((32, 64, 128, 256, 256, 256), "sssstt"),  # the paper's 7-entry list; its 512 is never used
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The architecture of a network: which model (``unet``, ``cunet`` or ``ynet``) and its sizes, what
    :func:`cunet.models.build_model` builds. Saved as ``model_config.json`` beside a trained ``model.keras``
    (the model card must describe the same kind of model; a folder from before cards has its card derived from
    it), and within a run's ``config.json`` (the TrainConfig's ``model``).

    Each model reads its own group of fields and ignores the others'. ``n_bins`` and ``n_frames`` are the
    magnitude patch a U-Net or C-U-Net takes, ``first_filters`` the channels of its first encoder block
    (doubled at each next one, ``n_layers`` blocks in all), ``film`` and ``control`` a C-U-Net's conditioning.
    ``video_frames`` and ``mouth_size`` are a Y-Net's video input (frames of a clip, pixels of a square mouth
    crop).

    Raises:
        ValueError: an unknown choice, a dropout rate out of [0, 1), or sizes that do not fit together.
    """

    model: ModelKind = "cunet"
    # C-U-Net / U-Net (magnitude in, masked magnitude out)
    n_bins: int = 512  # 513 STFT bins less the Nyquist bin
    n_frames: int = 128
    first_filters: int = 16
    n_layers: int = 6
    film: Film = "simple"  # simple: one (gamma, beta) scalar pair per encoder block; complex: one per channel
    control: Control = "dense"  # dense or cnn condition generator
    z_dim: int = 4  # condition vector length: bass, drums, other, vocals
    # FiLM scale = offset + gamma. 1 starts every block at the identity; the original (0) starts it near 0.
    film_gamma_offset: float = 1.0
    # Dropout before each batch norm of the control network (the original's 0.5): with four one-hot
    # conditions it only adds noise to gamma and beta, and the statistics batch norm learns under it are not
    # those it meets at inference. Both changes are measured in bench/quality.py (cunet-complex-cnn-original).
    control_dropout: float = 0.0
    # Y-Net (complex spectrogram in, complex mask logits out)
    visual: Visual = "video"  # video, landmarks or none (the audio-only U-Net)
    depth: Depth = "seed"  # seed or paper
    widths: tuple[int, ...] = ()  # overrides the depth's channels (same length), e.g. for small tests
    graph_widths: tuple[int, ...] = ()  # overrides the ST-GCN's 8 block widths (32, 32, 64, 64, 128, 128, 256, 256)
    visual_steps: int = 16  # visual features pooled to the bottleneck's time steps
    video_frames: int = 100
    mouth_size: int = 96
    # The video ResNet's stem, stage and stride: the original's (64, 128, 256) channels after a stride-2 stem
    # by default; a CPU preset narrows them and strides the 96-pixel crops by 4 (the same input, 1/64 of the
    # arithmetic after the stem).
    video_widths: tuple[int, ...] = (64, 128, 256)
    video_stride: int = 2

    def __post_init__(self):
        for name, literal in (
            ("model", ModelKind),
            ("film", Film),
            ("control", Control),
            ("visual", Visual),
            ("depth", Depth),
        ):
            check_choice(f"model config {name}", getattr(self, name), literal)
        if self.widths and len(self.widths) != len(DEPTHS[self.depth][0]):
            raise ValueError(f"widths needs {len(DEPTHS[self.depth][0])} entries for depth {self.depth!r}")
        if self.graph_widths and len(self.graph_widths) != 8:
            raise ValueError(f"graph_widths needs 8 entries (one per ST-GCN block), got {len(self.graph_widths)}")
        if len(self.video_widths) != 3 or min(self.video_widths) < 1:
            raise ValueError(
                f"video_widths needs 3 positive channel counts (stem and first stage, second, "
                f"third), got {list(self.video_widths)}"
            )
        if not 1 <= self.video_stride <= self.mouth_size // 8:
            raise ValueError(
                f"video_stride must be between 1 and mouth_size/8 = {self.mouth_size // 8}, got {self.video_stride}"
            )
        if not 0 <= self.control_dropout < 1:
            raise ValueError(f"control_dropout must be in [0, 1), got {self.control_dropout}")
        if self.model != "ynet" and (self.n_bins % 2**self.n_layers or self.n_frames % 2**self.n_layers):
            raise ValueError(f"n_bins and n_frames must be multiples of 2**n_layers = {2**self.n_layers}")

    @property
    def condition_shape(self) -> tuple[int, int]:
        """The C-U-Net's condition input: a row for the dense control network, a column for the cnn one."""
        return (1, self.z_dim) if self.control == "dense" else (self.z_dim, 1)

    @property
    def ynet_channels(self) -> tuple[int, ...]:
        return tuple(self.widths) or DEPTHS[self.depth][0]

    @property
    def ynet_pools(self) -> str:
        return DEPTHS[self.depth][1]
