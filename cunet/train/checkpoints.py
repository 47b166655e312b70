"""Checkpoints that make an interrupted run resume exactly: the model with its optimizer, and the epoch,
callback and random-stream state inside the same archive, replaced by one rename after every epoch.

A damaged checkpoint is refused naming it and saying how to go on, before anything in the run is rewritten.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np

from ..errors import InputError
from ..fileio import atomic_path, dump_json, save_json
from ..models import register_layers

STATE_MEMBER = "cunet_state.json"  # the resume state, inside checkpoints/last.keras


def all_layers(model):
    """Every layer of ``model``, those of the models nested in it included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def rng_states(model: keras.Model) -> dict[str, list[int]]:
    """The dropout layers' random-stream positions, which a .keras file does not keep."""
    return {
        layer.name: [int(v) for v in layer.seed_generator.state.numpy()]
        for layer in all_layers(model)
        if getattr(layer, "seed_generator", None) is not None
    }


def set_rng_states(model: keras.Model, states: dict[str, list[int]]) -> None:
    """Put back the random-stream positions :func:`rng_states` saved, by layer name."""
    for layer in all_layers(model):
        if layer.name in states:
            layer.seed_generator.state.assign(np.asarray(states[layer.name], layer.seed_generator.state.dtype))


class RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: the whole model (with optimizer state) and the callbacks' state, atomically."""

    def __init__(
        self,
        folder: Path,
        early: keras.callbacks.EarlyStopping,
        plateau: keras.callbacks.ReduceLROnPlateau,
        state: dict | None,
    ):
        super().__init__()
        self.folder, self.early, self.plateau, self.state = folder, early, plateau, state

    def on_train_begin(self, logs=None):
        if self.state:  # callbacks reset themselves in on_train_begin; put back where the run stopped
            self.early.wait, self.early.best = self.state["early_wait"], self.state["early_best"]
            self.plateau.wait, self.plateau.best = self.state["plateau_wait"], self.state["plateau_best"]
            self.plateau.cooldown_counter = self.state["plateau_cooldown"]
            set_rng_states(self.model, self.state["rng"])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        best = self.state["best_val_loss"] if self.state else float("inf")
        val = float(logs.get("val_loss", float("inf")))
        if val < best:
            best = val
            save_checkpoint(self.model, self.folder / "best.keras")
        self.state = {
            "epoch": epoch + 1,
            "best_val_loss": best,
            "early_wait": self.early.wait,
            "early_best": float(self.early.best),
            "plateau_wait": self.plateau.wait,
            "plateau_best": float(self.plateau.best),
            "plateau_cooldown": self.plateau.cooldown_counter,
            "rng": rng_states(self.model),
        }
        save_checkpoint(self.model, self.folder / "last.keras", self.state)
        save_json(self.folder / "state.json", self.state)  # a readable copy

    def on_train_end(self, logs=None):
        if self.early.stopped_epoch > 0 and self.state:  # early stopping ends the run for good
            self.state["finished"] = True
            save_json(self.folder / "state.json", self.state)


def damaged(path: Path, err: BaseException, remedy: str) -> InputError:
    """The error that refuses a damaged file: it names ``path``, the first line of ``err`` and what the user can
    do (``remedy``)."""
    first = (str(err).strip().splitlines() or [""])[0] or type(err).__name__
    return InputError(path, f"damaged ({type(err).__name__}: {first}): {remedy}")


STATE_KEYS = (
    "epoch",
    "best_val_loss",
    "early_wait",
    "early_best",
    "plateau_wait",
    "plateau_best",
    "plateau_cooldown",
    "rng",
)


def checkpoint_state(ckpt: Path) -> dict | None:
    """The state of the epoch ``last.keras`` holds, read from inside it.

    A kill between renaming a new ``last.keras`` into place and rewriting ``state.json`` would otherwise pair
    epoch k+1's weights with epoch k's state, and the resumed run would train that epoch twice. Checkpoints
    written before the state moved inside keep it in ``state.json`` alone; "finished" is only ever there.
    A damaged checkpoint or state is refused saying how to go on, before anything in the run is rewritten.
    """
    last, copy = ckpt / "last.keras", ckpt / "state.json"
    saved = None
    if copy.is_file():
        try:
            saved = json.loads(copy.read_text())
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:  # invalid JSON or text
            raise damaged(
                copy,
                err,
                f"delete it to resume from {last.name} (a run that early stopping ended then trains on), or restore it",
            ) from None
    if not last.is_file():
        return None
    try:
        with zipfile.ZipFile(last) as archive:
            state = json.loads(archive.read(STATE_MEMBER)) if STATE_MEMBER in archive.namelist() else saved
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as err:  # a truncated or garbled archive
        raise damaged(last, err, "delete it to restart the run from scratch, or restore it") from None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or state["epoch"] < 0:
        raise damaged(
            copy if saved is not None and state is saved else last,  # the file the state came from
            ValueError("no epoch count in its resume state"),
            "delete checkpoints/last.keras to restart the run from scratch, or restore it",
        )
    if saved and saved.get("finished") and saved.get("epoch") == state["epoch"]:
        state["finished"] = True
    return state


def load_checkpoint(path: Path, remedy: str) -> keras.Model:
    """A checkpoint loaded in full (weights, optimizer): a damaged one is refused naming it and the remedy."""
    if not path.is_file():
        raise InputError(path, f"missing: {remedy}")
    register_layers()
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - Keras and h5py raise many kinds on a damaged archive
        raise damaged(path, err, remedy) from None


def model_loads(path: Path) -> bool:
    """Whether ``path`` loads as a model (in safe mode, uncompiled); a missing or damaged file does not."""
    register_layers()
    try:
        keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception:  # noqa: BLE001 - whatever is wrong with it, it has to be rebuilt
        return False
    return True


def save_checkpoint(model: keras.Model, path: Path, state: dict | None = None) -> None:
    """``model`` (with its optimizer) to ``path`` atomically, with ``state`` inside the archive."""
    with atomic_path(path) as tmp:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:  # the state travels in the same rename as the weights
                archive.writestr(STATE_MEMBER, dump_json(state))
