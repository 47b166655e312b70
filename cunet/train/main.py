"""The fit loop: model.fit with checkpoints that make an interrupted run resume exactly.

A run folder holds ``config.json`` (the resolved TrainConfig), ``checkpoints/last.keras`` (model and
optimizer state, rewritten atomically after every epoch) with ``checkpoints/state.json`` (epoch and
callback state), ``checkpoints/best.keras`` (lowest validation loss), ``history.csv``, ``tensorboard/``
and, at the end, ``model.keras`` (the best weights) with ``model_config.json``. The training stream is a
pure function of (seed, example number), so restarting at the last finished epoch replays exactly the
examples an uninterrupted run would have seen.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .. import config as config_io
from ..datasets.store import Store
from ..errors import InputError
from ..fileio import atomic_path, load_json, save_json
from . import data_loader
from .config import TrainConfig
from .models import build_model
from .models.losses import YNetLoss


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay or None)
    return keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, weight_decay=cfg.weight_decay or None)


def compiled_model(cfg: TrainConfig) -> keras.Model:
    model = build_model(cfg.model)
    loss = YNetLoss(3.0 if cfg.remix else 2.0) if cfg.model.model == "ynet" else "mae"
    model.compile(optimizer=make_optimizer(cfg), loss=loss)
    return model


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def rng_states(model: keras.Model) -> dict[str, list[int]]:
    """The dropout layers' random-stream positions, which a .keras file does not keep."""
    return {layer.name: [int(v) for v in layer.seed_generator.state.numpy()]
            for layer in _layers(model) if getattr(layer, "seed_generator", None) is not None}


def set_rng_states(model: keras.Model, states: dict[str, list[int]]) -> None:
    for layer in _layers(model):
        if layer.name in states:
            layer.seed_generator.state.assign(np.asarray(states[layer.name], layer.seed_generator.state.dtype))


class RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: the whole model (with optimizer state) and the callbacks' state, atomically."""

    def __init__(self, folder: Path, early: keras.callbacks.EarlyStopping, plateau: keras.callbacks.ReduceLROnPlateau,
                 state: dict | None):
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
            with atomic_path(self.folder / "best.keras") as tmp:
                self.model.save(tmp)
        with atomic_path(self.folder / "last.keras") as tmp:
            self.model.save(tmp)
        self.state = {"epoch": epoch + 1, "best_val_loss": best, "early_wait": self.early.wait,
                      "early_best": float(self.early.best), "plateau_wait": self.plateau.wait,
                      "plateau_best": float(self.plateau.best), "plateau_cooldown": self.plateau.cooldown_counter,
                      "rng": rng_states(self.model)}
        save_json(self.folder / "state.json", self.state)

    def on_train_end(self, logs=None):
        if self.early.stopped_epoch > 0 and self.state:  # early stopping ends the run for good
            self.state["finished"] = True
            save_json(self.folder / "state.json", self.state)


def _claim_run(cfg: TrainConfig) -> Path:
    """Create the run folder, or check that an existing one belongs to this very config."""
    run = cfg.run_path
    saved = run / "config.json"
    if saved.is_file():
        old = config_io.load(TrainConfig, saved)
        if old != cfg:
            raise InputError(saved, "this run folder holds a run with another config; choose another --run-dir "
                                    "(nothing was overwritten)")
    elif run.exists() and any(run.iterdir()):
        raise InputError(run, "exists and is not a cunet run folder: choose another --run-dir")
    else:
        config_io.save(cfg, saved)
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    return run


def train(cfg: TrainConfig, verbose: int = 1) -> Path:
    store = Store(cfg.store_path, cfg.store_kind)
    train_src = data_loader.examples(cfg, store, "train")
    valid_src = data_loader.examples(cfg, store, "valid")
    run = _claim_run(cfg)
    ckpt = run / "checkpoints"
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    state = load_json(ckpt / "state.json") if (ckpt / "state.json").is_file() else None
    if state and (state["epoch"] >= cfg.epochs or state.get("finished")) and (run / "model.keras").is_file():
        return run
    if state:
        model = keras.saving.load_model(ckpt / "last.keras", safe_mode=True)
    else:
        model = compiled_model(cfg)
    initial_epoch = state["epoch"] if state else 0
    per_epoch = cfg.steps_per_epoch * cfg.batch_size
    train_ds = data_loader.dataset(cfg, train_src, cfg.batch_size, start=initial_epoch * per_epoch)
    valid_ds = data_loader.dataset(cfg, valid_src, cfg.batch_size, count=len(valid_src))
    early = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=cfg.min_delta,
                                          patience=cfg.early_stopping_patience, mode="min")
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg.reduce_lr_factor,
                                                patience=cfg.reduce_lr_patience, min_delta=cfg.min_delta,
                                                min_lr=cfg.min_learning_rate)
    callbacks = [early, plateau, keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
                 keras.callbacks.TensorBoard(str(run / "tensorboard"), write_graph=False),
                 RunCheckpoint(ckpt, early, plateau, state)]
    model.fit(train_ds, validation_data=valid_ds, epochs=cfg.epochs, initial_epoch=initial_epoch,
              steps_per_epoch=cfg.steps_per_epoch, callbacks=callbacks, verbose=verbose)
    best = keras.saving.load_model(ckpt / "best.keras", safe_mode=True)
    with atomic_path(run / "model.keras") as tmp:
        best.save(tmp)
    config_io.save(cfg.model, run / "model_config.json")
    return run
