"""The fit loop: model.fit with checkpoints that make an interrupted run resume exactly.

A run folder holds ``config.json`` (the resolved TrainConfig), ``checkpoints/last.keras`` (model and
optimizer state, rewritten atomically after every epoch, with the epoch and callback state inside it),
``checkpoints/state.json`` (a readable copy of that state), ``checkpoints/best.keras`` (lowest validation
loss), ``history.csv``, ``tensorboard/`` and, at the end, ``model.keras`` (the best weights) with
``model_config.json``. The training stream is a pure function of (seed, example number), so restarting at
the last finished epoch replays exactly the examples an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .. import config as config_io
from ..datasets.store import Store
from ..errors import InputError
from ..fileio import atomic_path, dump_json, load_json, save_json
from . import data_loader
from .distribute import Placement, feed, placement
from .config import TrainConfig
from ..models import build_model
from ..models.card import card_for, save_card
from ..models.losses import YNetLoss

STATE_MEMBER = "cunet_state.json"  # the resume state, inside checkpoints/last.keras


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "sgd":
        opt = keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay or None)
    else:
        opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, weight_decay=cfg.weight_decay or None)
    # Named explicitly rather than left to compile(): a checkpoint then reloads with its loss-scale state
    # whatever dtype policy is current when it is loaded.
    return keras.optimizers.LossScaleOptimizer(opt) if cfg.mixed_precision == "float16" else opt


def compiled_model(cfg: TrainConfig) -> keras.Model:
    model = build_model(cfg.model)
    loss = YNetLoss(cfg.loss_sources) if cfg.model.model == "ynet" else "mae"
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
        self.state = {"epoch": epoch + 1, "best_val_loss": best, "early_wait": self.early.wait,
                      "early_best": float(self.early.best), "plateau_wait": self.plateau.wait,
                      "plateau_best": float(self.plateau.best), "plateau_cooldown": self.plateau.cooldown_counter,
                      "rng": rng_states(self.model)}
        with atomic_path(self.folder / "last.keras") as tmp:
            self.model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:  # the state travels in the same rename as the weights
                archive.writestr(STATE_MEMBER, dump_json(self.state))
        save_json(self.folder / "state.json", self.state)  # a readable copy

    def on_train_end(self, logs=None):
        if self.early.stopped_epoch > 0 and self.state:  # early stopping ends the run for good
            self.state["finished"] = True
            save_json(self.folder / "state.json", self.state)


def checkpoint_state(ckpt: Path) -> dict | None:
    """The state of the epoch ``last.keras`` holds, read from inside it.

    A kill between renaming a new ``last.keras`` into place and rewriting ``state.json`` would otherwise pair
    epoch k+1's weights with epoch k's state, and the resumed run would train that epoch twice. Checkpoints
    written before the state moved inside keep it in ``state.json`` alone; "finished" is only ever there.
    """
    saved = load_json(ckpt / "state.json") if (ckpt / "state.json").is_file() else None
    if not (ckpt / "last.keras").is_file():
        return None
    with zipfile.ZipFile(ckpt / "last.keras") as archive:
        if STATE_MEMBER not in archive.namelist():
            return saved
        state = json.loads(archive.read(STATE_MEMBER))
    if saved and saved.get("finished") and saved["epoch"] == state["epoch"]:
        state["finished"] = True
    return state


def _synchronise_batch_norm(model: keras.Model, on: bool) -> None:
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = on


def _vector_logs(step):
    """Logs as 1-vectors: Keras 3.15 reduces logs across workers along axis 0, which scalars do not have."""
    def wrapped(data):
        return {name: keras.ops.reshape(value, (1,)) for name, value in step(data).items()}
    return wrapped


def run_folder(cfg: TrainConfig, place: Placement) -> Path:
    """The chief writes the run folder; other workers of a multi-worker run keep theirs beside it."""
    return cfg.run_path if place.chief else cfg.run_path.with_name(f"{cfg.run_path.name}.worker{place.worker}")


def _claim_run(cfg: TrainConfig, run: Path) -> Path:
    """Create the run folder, or check that an existing one belongs to this very config."""
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


def train(cfg: TrainConfig, verbose: int = 1, callbacks: list[keras.callbacks.Callback] = ()) -> Path:
    """Train (or resume) the run ``cfg`` describes; returns its folder. ``callbacks`` are added to fit's."""
    store = Store(cfg.store_path, cfg.store_kind)
    train_src = data_loader.examples(cfg, store, "train")
    valid_src = data_loader.examples(cfg, store, "valid")
    place = placement(cfg.strategy)
    run = _claim_run(cfg, run_folder(cfg, place))
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if cfg.mixed_precision == "none" else f"mixed_{cfg.mixed_precision}")
    try:
        with place.scope():
            return _fit(cfg, run, place, train_src, valid_src, verbose, list(callbacks))
    finally:
        keras.config.set_dtype_policy(policy)


def _fit(cfg: TrainConfig, run: Path, place: Placement, train_src, valid_src, verbose: int, extra: list) -> Path:
    ckpt = run / "checkpoints"
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    state = checkpoint_state(ckpt)
    if state and (state["epoch"] >= cfg.epochs or state.get("finished")) and (run / "model.keras").is_file():
        return run
    if state:
        model = keras.saving.load_model(ckpt / "last.keras", safe_mode=True)
    else:
        model = compiled_model(cfg)
    # Statistics over the global batch, so that tf.distribute replicas stay identical (JAX's DataParallel
    # computes over the global batch anyway).
    _synchronise_batch_norm(model, place.replicas > 1 and place.strategy is not None)
    if place.strategy is not None:
        # Keras 3.15's fit, under a tf.distribute strategy, pulls one batch off the training iterator to
        # build the model symbolically (a batch the run then never trains on, so resuming would drift), and
        # that pull fails outright across workers (it MEAN-reduces the nested batch). Everything is built
        # here instead; with no strategy recorded, Keras takes the one in scope, which is the same.
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model._distribute_strategy = None
    if place.workers > 1 and keras.backend.backend() == "tensorflow":
        model.train_step, model.test_step = _vector_logs(model.train_step), _vector_logs(model.test_step)
    initial_epoch = state["epoch"] if state else 0
    per_epoch = cfg.steps_per_epoch * cfg.batch_size
    train_ds = feed(place, lambda batch, shard, shards: data_loader.dataset(
        cfg, train_src, batch, start=initial_epoch * per_epoch, shard=shard, shards=shards), cfg.batch_size)
    # Replicas must agree on the number of validation steps: whole global batches, the index read cyclically.
    valid_steps = math.ceil(len(valid_src) / cfg.batch_size)
    valid_count = len(valid_src) if place.strategy is None else valid_steps * cfg.batch_size
    valid_ds = feed(place, lambda batch, shard, shards: data_loader.dataset(
        cfg, valid_src, batch, count=valid_count, shard=shard, shards=shards), cfg.batch_size)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=cfg.min_delta,
                                          patience=cfg.early_stopping_patience, mode="min")
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg.reduce_lr_factor,
                                                patience=cfg.reduce_lr_patience, min_delta=cfg.min_delta,
                                                min_lr=cfg.min_learning_rate)
    callbacks = [early, plateau, keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
                 keras.callbacks.TensorBoard(str(run / "tensorboard"), write_graph=False),
                 RunCheckpoint(ckpt, early, plateau, state)] + extra
    model.fit(train_ds, validation_data=valid_ds, epochs=cfg.epochs, initial_epoch=initial_epoch,
              steps_per_epoch=cfg.steps_per_epoch, validation_steps=valid_steps, callbacks=callbacks, shuffle=False,
              verbose=verbose)
    best = keras.saving.load_model(ckpt / "best.keras", safe_mode=True)
    _synchronise_batch_norm(best, False)  # the model users get loads on any backend (JAX refuses it)
    with atomic_path(run / "model.keras") as tmp:
        best.save(tmp)
    config_io.save(cfg.model, run / "model_config.json")
    save_card(card_for(cfg.model, target=cfg.target, remix=cfg.remix, mixture_level=cfg.mixture_level), run)  # what a separator reads
    return run
