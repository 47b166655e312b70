"""A trained model as a separator or a scorer finds it: the Keras model, its config and its card."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import config as config_io
from ..errors import InputError
from .card import ModelCard, load_card
from .config import ModelConfig


@dataclasses.dataclass
class Run:
    folder: Path
    model: object  # keras.Model
    model_cfg: ModelConfig
    card: ModelCard

    @property
    def name(self) -> str:
        return self.folder.name


def load_run(path: str | Path) -> Run:
    """A run folder, or its ``model.keras`` (``model_config.json`` beside it), loaded in Keras safe mode.

    Args:
        path: the run folder or the model file.
    Returns:
        The :class:`Run`; raises :class:`InputError` naming the file when any part is missing or does not
        fit the others.
    """
    import keras  # cunet's layers are registered by this package's __init__

    path = Path(path)
    folder, model_file = (path, path / "model.keras") if path.is_dir() else (path.parent, path)
    if not model_file.is_file():
        raise InputError(model_file, "no such model file (give a run folder or its model.keras)")
    if not (folder / "model_config.json").is_file():
        raise InputError(folder / "model_config.json", "is missing: not a cunet model folder")
    model_cfg = config_io.load(ModelConfig, folder / "model_config.json")
    card = load_card(folder, model_cfg)
    try:
        model = keras.saving.load_model(model_file, safe_mode=True, compile=False)
    except Exception as err:  # keras raises many kinds on foreign files
        raise InputError(model_file, f"is not a loadable cunet model ({type(err).__name__}: {err})") from None
    first = model.inputs[0].shape
    if tuple(first[1:3]) != (card.patch_bins, card.patch_frames):
        raise InputError(folder / "model_config.json", f"disagrees with {model_file.name}: the network takes "
                                                       f"{tuple(first[1:3])} patches, the config says "
                                                       f"{(card.patch_bins, card.patch_frames)}")
    return Run(folder, model, model_cfg, card)
