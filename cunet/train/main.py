"""Training: the run ``cfg`` describes, checked, then trained (or resumed) with ``model.fit``.

The run folder (:mod:`cunet.train.run_folder`) is checked before anything in it is written, and so is the
store (see :meth:`Store.check`). The training stream is a pure function of (seed, example number), so
restarting at the last finished epoch replays exactly the examples an uninterrupted run would have seen. A
finished run whose ``model.keras`` no longer loads rebuilds it from ``checkpoints/best.keras``. What the run
skips (training tracks shorter than a patch, empty accompaniment clips) is printed and kept in
``warnings.txt``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import keras
import tensorflow as tf

from ..config import to_dict
from ..errors import InputError
from ..lock import folder_lock
from ..models import ModelConfig, build_model
from ..models.losses import YNetLoss
from ..models.run import load_run
from ..store import Store
from . import data_loader, example_sources
from .checkpoints import RunCheckpoint
from .config import TrainConfig
from .distribute import Placement, feed, place_model, placement
from .run_folder import Resumed, RunFolder


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer ``cfg`` names (Adam or SGD, with its settings), wrapped for loss scaling under float16."""
    if cfg.optimizer == "sgd":
        opt = keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay or None)
    else:
        opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, weight_decay=cfg.weight_decay or None)
    # Named explicitly rather than left to compile(): a checkpoint then reloads with its loss-scale state
    # whatever dtype policy is current when it is loaded.
    return keras.optimizers.LossScaleOptimizer(opt) if cfg.mixed_precision == "float16" else opt


def compiled_model(cfg: TrainConfig) -> keras.Model:
    """A new model of ``cfg.model``, compiled with its optimizer and loss: a Y-Net's :class:`YNetLoss` over
    ``cfg.loss_sources``, the mean absolute error for a U-Net or C-U-Net."""
    model = build_model(cfg.model)
    if cfg.init_from:
        model.set_weights(initial_weights(cfg.init_from, cfg.model))
    loss = YNetLoss(cfg.loss_sources) if cfg.model.model == "ynet" else "mae"
    model.compile(optimizer=make_optimizer(cfg), loss=loss)
    return model


def initial_weights(run: str, model: ModelConfig) -> list:
    """The weights of the trained ``run``, which a fine-tuning run of ``model`` starts from.

    Raises:
        InputError: naming the run's model config, when its model is not this run's.
    """
    source = load_run(run)
    if source.model_cfg != model:
        differ = sorted(k for k, v in to_dict(model).items() if to_dict(source.model_cfg).get(k) != v)
        raise InputError(
            source.folder / "model_config.json",
            f"describes another model than this run's (they differ in {', '.join(differ)}): --set init_from "
            "takes a run of the same model config",
        )
    return source.model.get_weights()


def run_path(cfg: TrainConfig, place: Placement) -> Path:
    """The chief writes the run folder; other workers of a multi-worker run keep theirs beside it."""
    return cfg.run_path if place.chief else cfg.run_path.with_name(f"{cfg.run_path.name}.worker{place.worker}")


def check_width(cfg: TrainConfig, store: Store) -> None:
    """Refuse a C-U-Net whose condition input is not as wide as the store has sources, naming the store."""
    sources = list(store.music.sources) if store.kind == "music" else []
    if cfg.model.model == "cunet" and cfg.model.z_dim != len(sources):
        raise InputError(
            store.path,
            f"holds {len(sources)} sources ({', '.join(sources)}), but the C-U-Net's "
            f"condition has model.z_dim={cfg.model.z_dim}: leave model.z_dim unset (it "
            "follows the store)",
        )


def train(cfg: TrainConfig, verbose: int = 1, callbacks: tuple[keras.callbacks.Callback, ...] = ()) -> Path:
    """Train (or resume) the run ``cfg`` describes.

    Nothing is written before the store and the run folder's checkpoints have been checked; the run folder
    has one writer at a time (a second stops at once with "in use by process N"), held for the whole run.

    Args:
        cfg: the resolved config.
        verbose: model.fit's verbosity.
        callbacks: added to fit's own.

    Returns:
        the run folder.

    Raises:
        InputError: a store, run folder or checkpoint that cannot serve, named with what to do.
    """
    store = Store(cfg.store_path, cfg.store_kind)
    store.check(values=False)  # the cheap checks, before the run folder is touched
    check_width(cfg, store)
    train_src = example_sources.examples(cfg, store, "train")
    valid_src = example_sources.examples(cfg, store, "valid")
    warnings = list(dict.fromkeys(train_src.warnings + valid_src.warnings))
    place = placement(cfg.strategy)
    folder = RunFolder(cfg, run_path(cfg, place))
    folder.check()  # before the lock file goes into a folder that is not ours
    new = not folder.path.exists()
    with folder_lock(folder.path):
        folder.check()  # again: another run may have claimed it meanwhile
        if folder.done():
            return folder.path
        # The value check reads the whole store: under the lock, so that a second run into this folder is
        # refused at once rather than after reading it too; and not for a run that has nothing left to do.
        try:
            store.check_values()
        except InputError:
            if new:  # nothing of this run was written: the folder the lock made goes again
                folder.remove_if_only_a_lock()
            raise
        # Resuming replays the examples exactly only with deterministic kernels. TensorFlow offers no public
        # way to turn this off again: it holds for the rest of the process (one command, one run).
        tf.config.experimental.enable_op_determinism()
        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32" if cfg.mixed_precision == "none" else f"mixed_{cfg.mixed_precision}")
        try:
            with place.scope():
                if folder.trained():
                    folder.rebuild(warnings, train_src)
                else:
                    resumed = folder.resume()
                    folder.prepare(resumed.epoch, warnings)
                    keras.utils.set_random_seed(cfg.seed)
                    model = resumed.model if resumed.model is not None else compiled_model(cfg)
                    place_model(place, model)
                    _fit_epochs(cfg, folder, model, resumed, place, (train_src, valid_src), verbose, list(callbacks))
                    folder.finish(train_src)
        finally:
            keras.config.set_dtype_policy(policy)
    return folder.path


def _fit_epochs(
    cfg: TrainConfig,
    folder: RunFolder,
    model: keras.Model,
    resumed: Resumed,
    place: Placement,
    sources: tuple,
    verbose: int,
    extra: list,
) -> None:
    """model.fit from ``resumed.epoch`` on, with the run's input pipelines and callbacks."""
    train_src, valid_src = sources
    per_epoch = cfg.steps_per_epoch * cfg.batch_size
    train_ds = feed(
        place,
        lambda batch, shard, shards: data_loader.dataset(
            cfg, train_src, batch, start=resumed.epoch * per_epoch, shard=shard, shards=shards
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
        keras.callbacks.CSVLogger(str(folder.path / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(folder.path / "tensorboard"), write_graph=False),
        RunCheckpoint(folder.checkpoints, early, plateau, resumed.state),
    ] + extra
    try:
        with data_loader.surfacing(train_src, valid_src):
            model.fit(
                train_ds,
                validation_data=valid_ds,
                epochs=cfg.epochs,
                initial_epoch=resumed.epoch,
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
        raise OSError(err.errno, err.strerror or str(err), os.fspath(folder.path)) from None
