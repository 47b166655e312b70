"""Where a run's model lives: one device, every local device, or several workers.

``default`` trains on the backend's default device. ``mirrored`` replicates the model on every local
GPU (or, with no GPU, every logical CPU device) and averages gradients: ``tf.distribute.MirroredStrategy``
on TensorFlow, ``keras.distribution.DataParallel`` on JAX. ``multiworker`` spans processes:
``tf.distribute.MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG`` on TensorFlow, and on JAX
``keras.distribution.initialize()`` (its ``KERAS_DISTRIBUTION_*`` variables) then DataParallel over every
process's devices. ``batch_size`` is always the global batch: the number of examples per optimizer step.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from ..errors import InputError
from .checkpoints import all_layers


@dataclasses.dataclass
class Placement:
    """Where a run's model lives, as :func:`placement` makes it for ``--strategy`` (nothing saves it): the scope
    to build and load models in, this process's rank among ``workers`` processes, the replicas a global batch
    is split over, and the tf.distribute strategy on TensorFlow (None on JAX and for ``default``)."""

    scope: Callable[[], contextlib.AbstractContextManager]  # models are built and loaded inside it
    worker: int = 0  # this process's rank; worker 0 is the chief, which owns the run folder
    workers: int = 1
    replicas: int = 1
    strategy: tf.distribute.Strategy | None = None  # TensorFlow only: feeds the input pipeline per worker

    @property
    def chief(self) -> bool:
        return self.worker == 0


def placement(kind: str) -> Placement:
    """The placement of ``kind`` (TrainConfig's ``strategy``: default, mirrored or multiworker) on the current
    Keras backend.

    Raises:
        InputError: mirrored or multiworker on a backend other than TensorFlow or JAX.
    """
    backend = keras.backend.backend()
    if kind == "default":
        return Placement(contextlib.nullcontext)
    if backend == "tensorflow":
        if kind == "mirrored":
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
            return Placement(strategy.scope, replicas=strategy.num_replicas_in_sync, strategy=strategy)
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        workers = len(resolver.cluster_spec().as_dict().get("worker", [])) or 1
        return Placement(
            strategy.scope,
            worker=int(resolver.task_id or 0),
            workers=workers,
            replicas=strategy.num_replicas_in_sync,
            strategy=strategy,
        )
    if backend == "jax":
        if kind == "multiworker":
            keras.distribution.initialize()
        import jax

        devices = keras.distribution.list_devices()
        distribution = keras.distribution.DataParallel(devices=devices)
        return Placement(
            distribution.scope, worker=jax.process_index(), workers=jax.process_count(), replicas=len(devices)
        )
    raise InputError(None, f"--strategy {kind} needs the tensorflow or jax backend, not {backend}")


def feed(place: Placement, make: Callable[[int, int, int], tf.data.Dataset], global_batch: int):
    """The input pipeline for this placement; ``make(batch, shard, shards)`` builds one shard of it.

    With tf.distribute each worker reads only its own share of the example numbers (no worker computes
    examples another one uses), batched per replica.
    """
    if place.strategy is None:
        return make(global_batch, 0, 1)
    if global_batch % place.replicas:
        raise InputError(None, f"batch_size {global_batch} does not split over {place.replicas} replicas")

    def per_worker(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        return make(ctx.get_per_replica_batch_size(global_batch), ctx.input_pipeline_id, ctx.num_input_pipelines)

    return place.strategy.distribute_datasets_from_function(per_worker)


def synchronise_batch_norm(model: keras.Model, on: bool) -> None:
    """Batch statistics over the global batch (``on``) or each replica's."""
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = on


def place_model(place: Placement, model: keras.Model) -> None:
    """Ready a built (or loaded) model for ``place``: replicas that stay identical, and a fit that reads
    nothing from its training stream before the first step."""
    # Statistics over the global batch, so that tf.distribute replicas stay identical (JAX's DataParallel
    # computes over the global batch anyway).
    synchronise_batch_norm(model, place.replicas > 1 and place.strategy is not None)
    if place.strategy is not None:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        strategy_from_scope(model)
    if place.workers > 1 and keras.backend.backend() == "tensorflow":
        model.train_step, model.test_step = _vector_logs(model.train_step), _vector_logs(model.test_step)


def strategy_from_scope(model: keras.Model) -> None:
    """Make ``model.fit`` take the tf.distribute strategy in scope instead of the one recorded at build.

    Keras 3's fit, with a strategy recorded on the model, pulls one batch off the training iterator to build
    the model symbolically (a batch the run then never trains on, so resuming would drift), and that pull
    fails outright across workers (it MEAN-reduces the nested batch). :func:`place_model` builds everything
    beforehand, and with no strategy recorded Keras takes the one in scope, which is the same. The record is
    a private attribute: this checks that it still means that (tests/test_distribute.py fails where not).

    Raises:
        RuntimeError: where this Keras keeps the strategy elsewhere.
    """
    prop = getattr(type(model), "distribute_strategy", None)
    if "_distribute_strategy" not in vars(model) or not isinstance(prop, property):
        raise RuntimeError(
            f"Keras {keras.__version__} does not keep a model's tf.distribute strategy in _distribute_strategy "
            "behind the distribute_strategy property: cunet/train/distribute.py needs updating"
        )
    model._distribute_strategy = None


def _vector_logs(step):
    """Logs as 1-vectors: Keras 3.15 reduces logs across workers along axis 0, which scalars do not have."""

    def wrapped(data):
        return {name: keras.ops.reshape(value, (1,)) for name, value in step(data).items()}

    return wrapped
