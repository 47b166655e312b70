"""Trained runs as the evaluation stage finds and loads them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import config as config_io
from ..errors import InputError


@dataclasses.dataclass
class Run:
    """A trained model with the configs it was trained with (``train`` is None for a bare model file)."""

    folder: Path
    model: object  # keras.Model
    model_cfg: object  # ModelConfig
    train: object | None  # TrainConfig

    @property
    def name(self) -> str:
        return self.folder.name


def load_run(path: str | Path) -> Run:
    """A run folder, or its ``model.keras`` (``model_config.json`` and ``config.json`` beside it)."""
    import keras

    from ..train.config import TrainConfig
    from ..train.models import ModelConfig  # registers cunet's layers for safe-mode loading

    path = Path(path)
    folder, model_file = (path, path / "model.keras") if path.is_dir() else (path.parent, path)
    if not model_file.is_file():
        raise InputError(model_file, "no such model file (give a run folder or its model.keras)")
    if not (folder / "model_config.json").is_file():
        raise InputError(folder / "model_config.json", "is missing: not a cunet model folder")
    model_cfg = config_io.load(ModelConfig, folder / "model_config.json")
    try:
        model = keras.saving.load_model(model_file, safe_mode=True, compile=False)
    except Exception as err:  # keras raises many kinds on foreign files
        raise InputError(model_file, f"is not a loadable cunet model ({type(err).__name__}: {err})") from None
    train = config_io.load(TrainConfig, folder / "config.json") if (folder / "config.json").is_file() else None
    return Run(folder, model, model_cfg, train)


def latest_runs(root: str | Path = "runs") -> list[Path]:
    """Every finished run folder under ``root`` (one per model name, as ``python -m cunet.train`` names them)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no runs folder: train a model first (python -m cunet.train --model ...)")
    found = sorted(p.parent for p in root.glob("*/model.keras") if ".worker" not in p.parent.name)
    if not found:
        raise InputError(root, "holds no finished run (no */model.keras): train a model first")
    return found
