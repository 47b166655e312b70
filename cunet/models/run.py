"""A trained model as a separator or a scorer finds it: the Keras model, its config and its card."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config as config_io
from ..errors import InputError
from ..singing_input import MOUTH_SIZE, N_LANDMARKS
from .card import CARD_FILE, ModelCard, load_card
from .config import ModelConfig

if TYPE_CHECKING:  # keras loads in seconds: only where a model is loaded
    import keras

# What a .keras archive holds (Keras 3 writes all three); a zip without them is some other archive.
KERAS_ARCHIVE_FILES = ("config.json", "metadata.json")


@dataclasses.dataclass
class Run:
    """A trained model as :func:`load_run` found it: its folder (whose name is the run's :attr:`name`), the
    Keras model, the ModelConfig read from ``model_config.json`` and its ModelCard (read, or derived for a
    folder from before cards)."""

    folder: Path
    model: keras.Model
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
    import keras

    from . import register_layers

    register_layers()  # safe-mode loading knows only the layers registered with Keras

    path = Path(path)
    folder, model_file = (path, path / "model.keras") if path.is_dir() else (path.parent, path)
    if not model_file.is_file():
        raise InputError(model_file, "no such model file (give a run folder or its model.keras)")
    named = model_file == path
    if named:  # a file given as the model (a song, say) is what is wrong, more than the folder it lies in
        _check_keras_archive(model_file)
    if not (folder / "model_config.json").is_file():
        raise InputError(folder / "model_config.json", "is missing: not a cunet model folder")
    if not named:
        _check_keras_archive(model_file)
    model_cfg = config_io.load(ModelConfig, folder / "model_config.json")
    card = load_card(folder, model_cfg)
    try:
        model = keras.saving.load_model(model_file, safe_mode=True, compile=False)
    except Exception as err:  # keras raises many kinds on foreign files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(model_file, f"is a Keras archive that cunet cannot load as a model ({first})") from None
    # What the card (or the config it was derived from) says the network takes must be what it takes:
    # otherwise separation would fail later inside Keras, with a message naming neither file.
    described = folder / CARD_FILE if (folder / CARD_FILE).is_file() else folder / "model_config.json"
    expected = network_inputs(card)
    takes = [tuple(t.shape[1:]) for t in model.inputs]
    gives = tuple(model.outputs[0].shape[1:])
    if (
        len(takes) != len(expected)
        or not all(_fits(t, shape) for t, (_, shape) in zip(takes, expected))
        or not _fits(gives, expected[0][1])
    ):
        wanted = " and ".join(f"{what} {shape}" for what, shape in expected)
        raise InputError(
            described,
            f"disagrees with {model_file.name}: it describes a {_kind(card)} taking "
            f"{wanted}, the network in {model_file.name} takes "
            f"{' and '.join(map(str, takes))} and gives {gives}",
        )
    return Run(folder, model, model_cfg, card)


def network_inputs(card: ModelCard) -> list[tuple[str, tuple[int, ...]]]:
    """(what, shape without the batch) of each network input a model of ``card`` takes, in order."""
    if card.model == "ynet":
        inputs: list[tuple[str, tuple[int, ...]]] = [("spectrogram patches", (card.patch_bins, card.patch_frames, 2))]
        if card.visual == "video":
            inputs.append(("mouth crops", (card.clip_frames, MOUTH_SIZE, MOUTH_SIZE, 3)))
        elif card.visual == "landmarks":
            inputs.append(("landmarks", (card.clip_frames, N_LANDMARKS, 2)))
        return inputs
    inputs = [("magnitude patches", (card.patch_bins, card.patch_frames, 1))]
    if card.model == "cunet":
        inputs.append(("condition", tuple(card.condition_shape)))
    return inputs


def _fits(shape: tuple, expected: tuple) -> bool:
    """A network dimension of None takes any size."""
    return len(shape) == len(expected) and all(s is None or s == e for s, e in zip(shape, expected))


def _kind(card: ModelCard) -> str:
    return f"{card.model} ({card.visual})" if card.model == "ynet" else card.model


def _check_keras_archive(model_file: Path) -> None:
    """A .keras model is a zip archive holding Keras's config and metadata; say so for anything else."""
    try:
        is_zip = zipfile.is_zipfile(model_file)
        if is_zip:
            with zipfile.ZipFile(model_file) as archive:
                names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as err:
        raise InputError(model_file, f"cannot be read as a model file ({err})") from None
    if not is_zip:
        raise InputError(
            model_file,
            "is not a Keras model file (a .keras model, as python -m cunet.train "
            "saves it, is a zip archive; this file is not one)",
        )
    missing = [n for n in KERAS_ARCHIVE_FILES if n not in names]
    if missing:
        raise InputError(model_file, f"is a zip archive but not a Keras model: it lacks {', '.join(missing)}")
