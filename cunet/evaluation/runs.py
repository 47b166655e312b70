"""Finished runs as the scoring stage finds them, with the training config each was trained with."""

from __future__ import annotations

from pathlib import Path

from .. import config as config_io
from ..errors import InputError
from ..models.run import Run
from ..train.config import TrainConfig


def train_config(run: Run) -> TrainConfig:
    """The training config recorded in the run folder (its store, target and mixtures)."""
    path = run.folder / "config.json"
    if not path.is_file():
        raise InputError(path, "is missing: the run's store is recorded there")
    return config_io.load(TrainConfig, path)


def latest_runs(root: str | Path = "runs") -> list[Path]:
    """Every finished run folder under ``root`` (one per model name, as ``python -m cunet.train`` names them)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no runs folder: train a model first (python -m cunet.train --model ...)")
    found = sorted(p.parent for p in root.glob("*/model.keras") if ".worker" not in p.parent.name)
    if not found:
        raise InputError(root, "holds no finished run (no */model.keras): train a model first")
    return found
