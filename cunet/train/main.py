"""The fit loop: model.fit with checkpoints that make an interrupted run resume exactly.

A run folder holds ``config.json`` (the resolved TrainConfig), ``checkpoints/last.keras`` (model and
optimizer state, rewritten atomically after every epoch, with the epoch and callback state inside it),
``checkpoints/state.json`` (a readable copy of that state), ``checkpoints/best.keras`` (lowest validation
loss), ``history.csv``, ``tensorboard/`` and, at the end, ``model.keras`` (the best weights) with
``model_config.json``. The training stream is a pure function of (seed, example number), so restarting at
the last finished epoch replays exactly the examples an uninterrupted run would have seen.

A run folder has one writer (a flock the kernel drops however its holder dies); its location is not part of
the run, so a moved folder resumes. Before anything in it is written, the store is checked (see
:meth:`Store.check`) and so are the checkpoints: a damaged one is refused saying how to go on. A finished
run whose ``model.keras`` no longer loads rebuilds it from ``checkpoints/best.keras``. What the run skips
(training tracks shorter than a patch, empty accompaniment clips) is printed and kept in ``warnings.txt``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from pathlib import Path

import keras
import tensorflow as tf

from .. import config as config_io
from ..datasets.store import Store
from ..errors import InputError
from ..fileio import atomic_path, remove_stale_temporaries
from ..lock import LOCK_FILE, folder_lock, is_bookkeeping
from ..models import build_model
from ..models.card import CARD_FILE, card_for, save_card
from ..models.losses import YNetLoss
from ..outputs import check_output_folder
from . import data_loader
from .checkpoints import STATE_KEYS, RunCheckpoint, all_layers, checkpoint_state, damaged, load_checkpoint, model_loads
from .config import TrainConfig
from .distribute import Placement, feed, placement

WARNINGS_FILE = "warnings.txt"  # what the run skipped (tracks too short for a patch, empty clips)


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


def _synchronise_batch_norm(model: keras.Model, on: bool) -> None:
    for layer in all_layers(model):
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


def check_width(cfg: TrainConfig, store: Store) -> None:
    """Refuse a C-U-Net whose condition input is not as wide as the store has sources, naming the store."""
    sources = store.manifest.get("sources", []) if store.kind == "music" else []
    if cfg.model.model == "cunet" and cfg.model.z_dim != len(sources):
        raise InputError(
            store.path,
            f"holds {len(sources)} sources ({', '.join(sources)}), but the C-U-Net's "
            f"condition has model.z_dim={cfg.model.z_dim}: leave model.z_dim unset (it "
            "follows the store)",
        )


def _same_run(old: TrainConfig, cfg: TrainConfig) -> bool:
    """The run folder's location is not part of a run: a folder moved elsewhere (or given by another path)
    resumes as the same run. Stores are compared resolved: runs from before stores were recorded resolved
    hold the path as typed (or none, for the default), which resolves the same from where they were made."""

    def key(c: TrainConfig) -> TrainConfig:
        return dataclasses.replace(c, run_dir=None, store=str(c.store_path.resolve()))

    return key(old) == key(cfg)


def _check_run_folder(cfg: TrainConfig, run: Path) -> None:
    """Refuse (reading only) a ``run`` that cannot hold this run: a file, a folder holding another config,
    a folder that is not a run folder."""
    check_output_folder(run, "--run-dir")
    saved = run / "config.json"
    if saved.is_file():
        if not _same_run(config_io.load(TrainConfig, saved), cfg):
            raise InputError(
                saved,
                "this run folder holds a run with another config; choose another --run-dir (nothing was overwritten)",
            )
    elif run.is_dir() and any(not is_bookkeeping(entry.name) for entry in run.iterdir()):
        raise InputError(run, "exists and is not a cunet run folder: choose another --run-dir")


def _trim_history(path: Path, epochs: int) -> None:
    """Keep history.csv's rows of the ``epochs`` epochs the checkpoint holds: a run stopped after the row
    of an epoch was logged but before its checkpoint was written trains that epoch again, and would log it
    twice."""
    if not path.is_file():
        return
    header, *rows = path.read_text().splitlines(keepends=True) or [""]

    def epoch(row: str) -> int | None:
        first = row.split(",", 1)[0]
        return int(first) if first.strip().isdigit() else None

    kept = [row for row in rows if (e := epoch(row)) is not None and e < epochs]
    if len(kept) == len(rows):
        return
    with atomic_path(path) as tmp:
        tmp.write_text(header + "".join(kept) if epochs else "")


def _record_warnings(run: Path, warnings: list[str]) -> None:
    """Print what the run skips, and keep it in the run folder (warnings.txt) beside the results."""
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    path = run / WARNINGS_FILE
    if warnings:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in warnings))
    elif path.is_file():
        path.unlink()


def _remove_lock_only_folder(run: Path) -> None:
    entries = list(run.iterdir())
    if all(entry.name.startswith(LOCK_FILE) for entry in entries):
        for entry in entries:
            entry.unlink()
        run.rmdir()


def train(cfg: TrainConfig, verbose: int = 1, callbacks: list[keras.callbacks.Callback] = ()) -> Path:
    """Train (or resume) the run ``cfg`` describes; returns its folder. ``callbacks`` are added to fit's.

    Nothing is written before the store and the run folder's checkpoints have been checked; the run folder
    has one writer at a time (a second stops at once with "in use by process N"), held for the whole run.
    """
    store = Store(cfg.store_path, cfg.store_kind)
    store.check(values=False)  # the cheap checks, before the run folder is touched
    check_width(cfg, store)
    train_src = data_loader.examples(cfg, store, "train")
    valid_src = data_loader.examples(cfg, store, "valid")
    place = placement(cfg.strategy)
    run = run_folder(cfg, place)
    _check_run_folder(cfg, run)  # before the lock file goes into a folder that is not ours
    new = not run.exists()
    with folder_lock(run):
        _check_run_folder(cfg, run)  # again: another run may have claimed it meanwhile
        # The value check reads the whole store: under the lock, so that a second run into this folder is
        # refused at once rather than after reading it too; and not for a run that has nothing left to do.
        try:
            if not _done(cfg, run):
                store.check_values()
        except InputError:
            if new:  # nothing of this run was written: the folder the lock made goes again
                _remove_lock_only_folder(run)
            raise
        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32" if cfg.mixed_precision == "none" else f"mixed_{cfg.mixed_precision}")
        try:
            with place.scope():
                return _fit(cfg, run, place, train_src, valid_src, verbose, list(callbacks))
        finally:
            keras.config.set_dtype_policy(policy)


def _prepare(cfg: TrainConfig, run: Path, epochs_done: int, warnings: list[str]) -> None:
    """The run folder's first writes, once everything in it has been checked."""
    ckpt = run / "checkpoints"
    for folder in (run, ckpt):
        remove_stale_temporaries(folder)  # what a killed run of this folder was writing
    saved = run / "config.json"
    if not saved.is_file() or config_io.load(TrainConfig, saved) != cfg:  # new, or moved: where it is now
        config_io.save(cfg, saved)
    ckpt.mkdir(exist_ok=True)
    _trim_history(run / "history.csv", epochs_done)
    _record_warnings(run, warnings)


def _finish(cfg: TrainConfig, run: Path, source=None) -> None:
    """``model.keras`` (the best epoch's model), with the configs a separator reads; ``source``: the training
    examples, whose store's sources and combinations a C-U-Net's card records (from the store, not from code)."""
    best_path = run / "checkpoints" / "best.keras"
    if not best_path.is_file():
        raise InputError(
            best_path,
            "missing: no epoch had a finite validation loss, so there is no best model "
            "(the training diverged: try a lower learning_rate)",
        )
    best = load_checkpoint(best_path, "restore it, or delete the run folder to train again")
    _synchronise_batch_norm(best, False)  # the model users get loads on any backend (JAX refuses it)
    with atomic_path(run / "model.keras") as tmp:
        best.save(tmp)
    config_io.save(cfg.model, run / "model_config.json")
    combinations = getattr(source, "combinations", ()) if cfg.model.model == "cunet" else ()
    save_card(
        card_for(
            cfg.model,
            target=cfg.target,
            remix=cfg.remix,
            mixture_level=cfg.mixture_level,
            sources=getattr(source, "sources", None),
            combinations=combinations,
        ),
        run,
    )


def _done(cfg: TrainConfig, run: Path) -> bool:
    """Trained to the end, with every output in place: re-running the command has nothing to do."""
    state = checkpoint_state(run / "checkpoints")
    return bool(state and (state["epoch"] >= cfg.epochs or state.get("finished")) and _outputs_complete(run))


def _outputs_complete(run: Path) -> bool:
    return (run / "model_config.json").is_file() and (run / CARD_FILE).is_file() and model_loads(run / "model.keras")


def _fit(cfg: TrainConfig, run: Path, place: Placement, train_src, valid_src, verbose: int, extra: list) -> Path:
    ckpt = run / "checkpoints"
    warnings = list(dict.fromkeys(train_src.warnings + valid_src.warnings))
    tf.config.experimental.enable_op_determinism()
    # Everything the run folder holds is checked before the first write into it.
    state = checkpoint_state(ckpt)
    if state and (state["epoch"] >= cfg.epochs or state.get("finished")):
        if _outputs_complete(run):
            return run
        # Trained, but model.keras is missing or damaged (killed while writing the outputs, or damaged
        # since): it is the best checkpoint's model, so it is made again from there.
        best_path = ckpt / "best.keras"
        if not model_loads(best_path):
            problem = "missing" if not (run / "model.keras").is_file() else "damaged (it does not load as a model)"
            raise InputError(
                run / "model.keras",
                f"{problem}, and {best_path} cannot rebuild it (missing or "
                "damaged): restore either, or delete the run folder to train "
                "again",
            )
        _prepare(cfg, run, state["epoch"], warnings)
        _finish(cfg, run, train_src)
        print(f"rebuilt {run / 'model.keras'} from {best_path}", file=sys.stderr)
        return run
    missing = [key for key in STATE_KEYS if key not in state] if state else []
    if missing:  # resuming reads every one of them
        raise damaged(
            ckpt / "last.keras",
            ValueError(f"its resume state lacks {missing}"),
            "delete it to restart the run from scratch, or restore it",
        )
    remedy = f"restore it, or delete {ckpt} to restart the run from scratch"
    if state and math.isfinite(state["best_val_loss"]):  # the end of the run reads it
        load_checkpoint(ckpt / "best.keras", remedy)
    last = (
        load_checkpoint(ckpt / "last.keras", "delete it to restart the run from scratch, or restore it")
        if state
        else None
    )
    _prepare(cfg, run, state["epoch"] if state else 0, warnings)
    keras.utils.set_random_seed(cfg.seed)
    model = last if last is not None else compiled_model(cfg)
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
    train_ds = feed(
        place,
        lambda batch, shard, shards: data_loader.dataset(
            cfg, train_src, batch, start=initial_epoch * per_epoch, shard=shard, shards=shards
        ),
        cfg.batch_size,
    )
    # Replicas must agree on the number of validation steps: whole global batches, the index read cyclically.
    valid_steps = math.ceil(len(valid_src) / cfg.batch_size)
    valid_count = len(valid_src) if place.strategy is None else valid_steps * cfg.batch_size
    valid_ds = feed(
        place,
        lambda batch, shard, shards: data_loader.dataset(
            cfg, valid_src, batch, count=valid_count, shard=shard, shards=shards
        ),
        cfg.batch_size,
    )
    early = keras.callbacks.EarlyStopping(
        monitor="val_loss", min_delta=cfg.min_delta, patience=cfg.early_stopping_patience, mode="min"
    )
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss",
        factor=cfg.reduce_lr_factor,
        patience=cfg.reduce_lr_patience,
        min_delta=cfg.min_delta,
        min_lr=cfg.min_learning_rate,
    )
    callbacks = [
        early,
        plateau,
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run / "tensorboard"), write_graph=False),
        RunCheckpoint(ckpt, early, plateau, state),
    ] + extra
    try:
        with data_loader.surfacing(train_src, valid_src):
            model.fit(
                train_ds,
                validation_data=valid_ds,
                epochs=cfg.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=cfg.steps_per_epoch,
                validation_steps=valid_steps,
                callbacks=callbacks,
                shuffle=False,
                verbose=verbose,
            )
    except OSError as err:
        if err.filename is not None:
            raise
        # A write inside fit (the history, the logs) that names no file: at least name the run.
        raise OSError(err.errno, err.strerror or str(err), os.fspath(run)) from None
    _finish(cfg, run, train_src)
    return run
