"""Finished runs as the scoring stage finds them, with the training config each was trained with."""

from __future__ import annotations

import os
from pathlib import Path

from .. import config as config_io
from ..errors import InputError
from ..models.run import Run
from ..train.config import TrainConfig
from .oracle import ORACLES


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


OTHER_SINGER = " (other singer)"  # a visual Y-Net's second row: scored with the other singer's frames


def run_folders(paths) -> list[Path]:
    """The run folders of ``paths`` (folders, or their model.keras), each once however it is spelled.

    Args:
        paths: as given on the command line.
    Returns:
        The paths as given, without those that name a run folder already listed (compared resolved).
    """
    seen, kept = set(), []
    for path in map(Path, paths):
        folder = (path.parent if path.is_file() else path).resolve()
        if folder not in seen:
            seen.add(folder)
            kept.append(path)
    return kept


def run_names(folders, reserved=ORACLES) -> list[str]:
    """A table name per run folder: its name, or where two runs share it or it is an oracle's (a folder named
    ``mixture``), the shortest tail of its resolved path that tells them apart (``seed0/runs/cunet``).

    Args:
        folders: distinct run folders.
        reserved: names of the tables' other rows; a Y-Net's second row (``<name> (other singer)``) is too.
    Returns:
        The names, in the order of ``folders``.
    """
    parts = [Path(f).resolve().parts for f in folders]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]).lstrip("/") for p, d in zip(parts, depth)]
        taken = set(reserved) | {n + OTHER_SINGER for n in names}
        clash = [i for i, n in enumerate(names) if names.count(n) > 1 or n in taken]
        longer = [i for i in clash if depth[i] < len(parts[i])]
        if not longer:
            return names
        for i in longer:
            depth[i] += 1


def together_spec(spec: str) -> tuple[str, list[str]]:
    """``NAME=DIR:DIR...`` (or ``DIR:DIR...``: named by its members joined with "+") -> (name, run paths): several
    magnitude models scored as one separator (``--together``), the paths joined by ``os.pathsep``.

    Raises:
        InputError: fewer than two paths, naming the spec."""
    name, _, paths = spec.partition("=")
    if not paths or "/" in name or os.sep in name:  # no NAME= before the first path
        name, paths = "", spec
    members = [p for p in paths.split(os.pathsep) if p]
    if len(members) < 2:
        raise InputError(
            None, f"--together {spec}: give two run folders or more, joined by '{os.pathsep}' (NAME=DIR{os.pathsep}DIR)"
        )
    folders = [Path(m).parent if Path(m).suffix == ".keras" else Path(m) for m in members]
    return name or "+".join(f.resolve().name for f in folders), members
