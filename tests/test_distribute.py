"""Data-parallel training: every replica ends a few steps of training with the same weights."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUNNER = Path(__file__).with_name("distributed_run.py")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run(args, env=None, timeout=400):
    env = {**os.environ, **(env or {})}
    procs = [
        subprocess.Popen(
            [sys.executable, str(RUNNER), *a],
            env={**env, **e},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for a, e in args
    ]
    try:
        outs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]


def _replicas(npz: Path) -> tuple[int, dict[str, np.ndarray]]:
    with np.load(npz, allow_pickle=False) as data:
        return int(data["replicas"]), {k: data[k] for k in data.files if k != "replicas"}


def _assert_replicas_agree(weights: dict[str, np.ndarray], copies: int):
    for name, stacked in weights.items():
        assert stacked.shape[0] == copies, name
        for copy in stacked[1:]:
            np.testing.assert_array_equal(copy, stacked[0], err_msg=name)


def _assert_trained(run: Path):
    rows = (run / "history.csv").read_text().splitlines()
    loss = float(rows[1].split(",")[rows[0].split(",").index("loss")])
    assert np.isfinite(loss) and loss > 0
    assert (run / "model.keras").is_file()


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices(tiny_stores, tmp_path):
    _run(
        [([str(tiny_stores / "musdb"), str(tmp_path / "run"), str(tmp_path / "w.npz"), "mirrored", "--cpus", "2"], {})]
    )
    replicas, weights = _replicas(tmp_path / "w.npz")
    assert replicas == 2
    _assert_replicas_agree(weights, 2)  # batch-norm statistics included: they are synchronised
    _assert_trained(tmp_path / "run")
    import keras

    import cunet.models

    cunet.models.register_layers()

    model = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and not any(layer.synchronized for layer in norms)  # loads on JAX too


@pytest.mark.slow
def test_multiworker_strategy_with_two_processes_on_loopback(tiny_stores, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [
        (
            [str(tiny_stores / "musdb"), str(tmp_path / "run"), str(tmp_path / f"w{i}.npz"), "multiworker"],
            {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    _run(workers)
    (r0, w0), (r1, w1) = _replicas(tmp_path / "w0.npz"), _replicas(tmp_path / "w1.npz")
    assert r0 == r1 == 2  # one replica per worker, two in sync
    for name in w0:
        np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)
    _assert_trained(tmp_path / "run")  # the chief owns the run folder
    assert (tmp_path / "run.worker1" / "model.keras").is_file()  # the other worker keeps its own beside it


@pytest.mark.slow
def test_jax_data_parallel_over_two_cpu_devices(tiny_stores, tmp_path):
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    _run([([str(tiny_stores / "musdb"), str(tmp_path / "run"), str(tmp_path / "w.npz"), "mirrored"], env)])
    replicas, weights = _replicas(tmp_path / "w.npz")
    assert replicas == 2
    _assert_replicas_agree(weights, 2)
    _assert_trained(tmp_path / "run")


def test_fit_under_a_strategy_takes_it_from_the_scope_once_the_record_is_cleared():
    """cunet clears a private attribute of Keras (train/distribute.py: strategy_from_scope): this fails as soon
    as Keras records a model's strategy elsewhere or reads the record differently."""
    import keras
    import tensorflow as tf

    from cunet.train.distribute import strategy_from_scope

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    assert model._distribute_strategy is strategy  # what a model built in a scope records today
    strategy_from_scope(model)
    assert model._distribute_strategy is None
    assert model.distribute_strategy is tf.distribute.get_strategy()  # outside: the default strategy
    with strategy.scope():
        assert model.distribute_strategy is strategy
        x = np.ones((8, 2), np.float32)
        model.optimizer.build(model.trainable_variables)
        history = model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    del model.__dict__["_distribute_strategy"]
    with pytest.raises(RuntimeError, match="_distribute_strategy"):
        strategy_from_scope(model)
