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


@dataclasses.dataclass
class Placement:
    scope: Callable[[], contextlib.AbstractContextManager]  # models are built and loaded inside it
    worker: int = 0  # this process's rank; worker 0 is the chief, which owns the run folder
    workers: int = 1
    replicas: int = 1
    strategy: tf.distribute.Strategy | None = None  # TensorFlow only: feeds the input pipeline per worker

    @property
    def chief(self) -> bool:
        return self.worker == 0


def placement(kind: str) -> Placement:
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
