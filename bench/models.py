"""Size, cost and training speed of every cunet model, measured side by side in one run.

Per model and preset: trainable parameters, forward FLOPs per sample (2 x multiply-adds of the
convolutions, dense and graph layers, counted from the layer shapes), and training samples/s
(Adam, random data, after a warm-up) on whatever backend KERAS_BACKEND selects.

    python bench/models.py                        # every model on this CPU (TensorFlow backend)
    KERAS_BACKEND=jax python bench/models.py --only ynet-paper-video --batch 10 --dtype bfloat16   # a GPU
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np

from cunet.models import ModelConfig, build_model
from cunet.models.graph_net import GraphConv

PRESETS = {
    "unet": ModelConfig(model="unet"),
    "cunet-simple-dense": ModelConfig(film="simple", control="dense"),
    "cunet-simple-cnn": ModelConfig(film="simple", control="cnn"),
    "cunet-complex-dense": ModelConfig(film="complex", control="dense"),
    "cunet-complex-cnn": ModelConfig(film="complex", control="cnn"),
    "ynet-seed-none": ModelConfig(model="ynet", depth="seed", visual="none"),
    "ynet-seed-landmarks": ModelConfig(model="ynet", depth="seed", visual="landmarks"),
    "ynet-seed-video": ModelConfig(model="ynet", depth="seed", visual="video"),
    "ynet-paper-none": ModelConfig(model="ynet", depth="paper", visual="none"),
    "ynet-paper-landmarks": ModelConfig(model="ynet", depth="paper", visual="landmarks"),
    "ynet-paper-video": ModelConfig(model="ynet", depth="paper", visual="video"),
}


def layer_flops(layer) -> int:
    """Forward FLOPs of one sample through ``layer`` (0 for layers that do no multiply-adds)."""
    if isinstance(layer, keras.Model):
        return sum(layer_flops(inner) for inner in layer.layers)
    if not layer.weights:
        return 0
    out = layer.output.shape[1:]
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Conv1D)):
        kernel = layer.kernel.shape  # (*k, in, out)
        return 2 * int(np.prod(kernel[:-1])) * int(np.prod(out))
    if isinstance(layer, keras.layers.Conv2DTranspose):
        kernel = layer.kernel.shape  # (*k, out, in): every input point scatters into k*k*out outputs
        return 2 * int(np.prod(kernel)) * int(np.prod(layer.input.shape[1:-1]))
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(np.prod(layer.kernel.shape)) * int(np.prod(out[:-1]))
    if isinstance(layer, GraphConv):
        t, v = layer.input.shape[1:3]
        return 2 * t * v * (int(np.prod(layer.kernel.shape)) + layer.k * v * layer.units)
    return 0


def random_batch(model, batch: int, rng):
    xs = [rng.random((batch, *i.shape[1:]), dtype=np.float32) for i in model.inputs]
    y = rng.random((batch, *model.output.shape[1:]), dtype=np.float32)
    return (xs if len(xs) > 1 else xs[0]), y


def train_speed(model, batch: int, steps: int, dtype: str) -> float:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae", jit_compile="auto")
    x, y = random_batch(model, batch, np.random.default_rng(0))
    model.train_on_batch(x, y)  # compile and warm up
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(PRESETS), help="models to measure (default: all)")
    parser.add_argument("--batch", type=int, default=0, help="default: 4 for C-U-Nets, 1 for Y-Nets")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "mixed_bfloat16"])
    args = parser.parse_args()
    if args.dtype != "float32":
        keras.config.set_dtype_policy("mixed_bfloat16")
    print(f"backend {keras.backend.backend()}, dtype {args.dtype}, {os.cpu_count()} CPU cores")
    print(f"{'model':<22} {'params':>11} {'GFLOPs/sample':>14} {'batch':>6} {'train samples/s':>16}")
    for name in args.only or PRESETS:
        keras.utils.set_random_seed(0)
        model = build_model(PRESETS[name])
        params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        flops = sum(layer_flops(layer) for layer in model.layers)
        batch = args.batch or (1 if name.startswith("ynet") else 4)
        speed = train_speed(model, batch, args.steps, args.dtype)
        print(f"{name:<22} {params:>11,} {flops / 1e9:>14.2f} {batch:>6} {speed:>16.2f}", flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
