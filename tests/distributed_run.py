"""One process of a distributed training test: trains a few steps, then saves every replica's weights.

    python tests/distributed_run.py STORE RUN_DIR OUT.npz {mirrored,multiworker} [--cpus N]

``--cpus N`` splits the CPU into N logical devices (the replicas of MirroredStrategy). Multi-worker
processes read their cluster from TF_CONFIG. OUT.npz holds, per model variable ``w<i>``, the array of its
values on each local replica (shape (replicas, *variable shape)).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("store")
parser.add_argument("run_dir")
parser.add_argument("out")
parser.add_argument("strategy")
parser.add_argument("--cpus", type=int, default=1)
args = parser.parse_args()
if args.cpus > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpus)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import keras  # noqa: E402

from cunet.train.__main__ import parse_args, resolve  # noqa: E402
from cunet.train.main import train  # noqa: E402


def local_copies(variable) -> list[np.ndarray]:
    if keras.backend.backend() == "jax":  # a replicated jax.Array holds one whole copy per device
        return [np.asarray(shard.data) for shard in variable.value.addressable_shards]
    strategy = tf.distribute.get_strategy()
    return [np.asarray(t) for t in strategy.experimental_local_results(variable.value)]


class SaveReplicas(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        arrays = {f"w{i}": np.stack(local_copies(w)) for i, w in enumerate(self.model.weights)}
        if keras.backend.backend() == "jax":
            arrays["replicas"] = np.array(len(self.model.weights[0].value.sharding.device_set))
        else:
            arrays["replicas"] = np.array(tf.distribute.get_strategy().num_replicas_in_sync)
        np.savez(args.out, **arrays)


cfg = resolve(
    parse_args(
        [
            "--model",
            "cunet",
            "--store",
            args.store,
            "--run-dir",
            args.run_dir,
            "--epochs",
            "1",
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--strategy",
            args.strategy,
            "--set",
            "model.first_filters=8",
        ]
    )
)  # a quarter of the arithmetic: the test is the syncing
train(cfg, verbose=0, callbacks=[SaveReplicas()])
