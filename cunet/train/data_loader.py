"""Training examples (:mod:`cunet.train.example_sources`) as tf.data pipelines: parallel reads of the memory-mapped
store, the mouth crops as graph ops, batches in order, so a stream restarted at example ``i`` is the same stream."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import tensorflow as tf

from ..errors import InputError
from ..singing_input import (
    KINETICS_MEAN,
    KINETICS_STD,
    MOUTH_COL_MATRIX,
    MOUTH_COLS,
    MOUTH_ROW_MATRIX,
    MOUTH_ROWS,
)
from .config import TrainConfig


def mouth_crops_tf(regions: tf.Tensor) -> tf.Tensor:
    """:func:`cunet.singing_input.mouth_crops` after the slicing, as TensorFlow ops.

    Cropping 100 frames costs ~27 ms in NumPy under the GIL; as graph ops it runs in tf.data's
    thread pool beside the other examples, which is what lets the video loader keep up.
    """
    x = tf.cast(regions, tf.float32) * (1 / 255)
    x = tf.einsum("oh,...hwc->...owc", MOUTH_ROW_MATRIX, x)
    x = tf.einsum("pw,...owc->...opc", MOUTH_COL_MATRIX, x)
    return (x - KINETICS_MEAN) / KINETICS_STD


def _structure(cfg: TrainConfig, source) -> tuple[list[tf.TensorSpec], Callable]:
    """The tensors of one example and how to arrange them as (inputs, target) for the model."""
    m = cfg.model
    if m.model == "ynet":
        if m.visual == "video":
            if m.mouth_size != MOUTH_ROW_MATRIX.shape[0]:
                raise ValueError(
                    f"the loader makes {MOUTH_ROW_MATRIX.shape[0]}-pixel mouth crops, "
                    f"not model.mouth_size={m.mouth_size}"
                )
            rows, cols = MOUTH_ROWS.stop - MOUTH_ROWS.start, MOUTH_COLS.stop - MOUTH_COLS.start
            visual = tf.TensorSpec((m.video_frames, rows, cols, 3), tf.uint8)
        else:
            visual = tf.TensorSpec((m.video_frames, 68, 2))
        specs = [tf.TensorSpec((256, 256, 2)), visual, tf.TensorSpec((256, 256, 4))]
        if m.visual == "none":
            return specs, lambda x, v, y: (x, y)
        if m.visual == "video":
            return specs, lambda x, v, y: ((x, mouth_crops_tf(v)), y)
        return specs, lambda x, v, y: ((x, v), y)
    # the condition as the store writes it (a dedicated U-Net ignores it; a C-U-Net's z_dim is checked equal)
    specs = [
        tf.TensorSpec((512, source.patch, 1)),
        tf.TensorSpec((len(source.sources),)),
        tf.TensorSpec((512, source.patch, 1)),
    ]
    if m.model == "unet":
        return specs, lambda x, z, y: (x, y)
    return specs, lambda x, z, y: ((x, tf.reshape(z, m.condition_shape)), y)


def dataset(
    cfg: TrainConfig,
    source,
    batch_size: int,
    start: int = 0,
    count: int | None = None,
    shard: int = 0,
    shards: int = 1,
    drop_remainder: bool | None = None,
) -> tf.data.Dataset:
    """Examples ``start``, ``start + 1``, ... (``count`` of them, or forever), batched and prefetched.

    With ``shards`` > 1 this pipeline yields every ``shards``-th of those examples from ``shard`` on: the
    part of the stream one worker of a distributed run computes.
    """
    specs, arrange = _structure(cfg, source)
    ids = tf.data.Dataset.range(start, start + count) if count is not None else tf.data.Dataset.range(start, 2**62)
    if shards > 1:
        ids = ids.shard(shards, shard)

    def compute(j):
        try:
            return source.example(int(j))
        except Exception as err:
            # TensorFlow turns it into an op error whose message is a traceback's text; kept so that
            # surfacing() can raise the error itself, which names the file at fault.
            if getattr(source, "failure", None) is None:
                source.failure = err
            raise

    def load(i):
        out = tf.numpy_function(compute, [i], [s.dtype for s in specs], stateful=False)
        for tensor, spec in zip(out, specs):
            tensor.set_shape(spec.shape)
        return arrange(*out)

    ds = ids.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    drop = count is None if drop_remainder is None else drop_remainder
    return ds.batch(batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def surfacing(*sources):
    """Raise what an example's code raised (an InputError naming a file, an OSError), not the TensorFlow op
    error that a failing ``numpy_function`` becomes by the time it leaves the pipeline."""
    for source in sources:
        source.failure = None
    try:
        yield
    except tf.errors.OpError:
        for source in sources:
            if isinstance(source.failure, (InputError, OSError)):
                raise source.failure from None
        raise
