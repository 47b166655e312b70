"""Does the input pipeline keep up with training? Measured side by side in one run.

Per model (the ``small`` preset's network and batch, on the embedded default store):
  * loader: examples/s that the tf.data pipeline alone delivers (memory-mapped store, parallel map);
  * train: samples/s of training steps on one cached batch (the model alone);
  * fit: samples/s of ``model.fit`` on the real pipeline, and its ratio to fit on a cached batch: 1.00
    means that reading and augmenting cost the training nothing; the loader and the model share the
    same cores here, so this is the number that matters.

    python -m cunet.preprocess          # the embedded store, once
    python bench/loader.py [--out bench/results/loader_cpu.md]
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import tensorflow as tf

from cunet.store import Store
from cunet.train import data_loader, example_sources
from cunet.train.__main__ import parse_args, resolve
from cunet.train.main import compiled_model

PIPELINES = {
    "unet (vocals)": ["--model", "unet"],
    "cunet (complex, cnn)": ["--model", "cunet", "--film", "complex", "--control", "cnn"],
    "ynet landmarks": ["--model", "ynet", "--visual", "landmarks"],
    "ynet none": ["--model", "ynet", "--visual", "none"],
    "ynet video": ["--model", "ynet", "--visual", "video"],
}


def loader_speed(ds, batch: int, batches: int) -> float:
    it = iter(ds)
    for _ in range(3):  # let AUTOTUNE settle and the page cache fill
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batch * batches / (time.perf_counter() - start)


def fit_speed(model, ds, batch: int, steps: int, budget: float = 30.0) -> float:
    """Samples/s of ``steps`` fit steps (fewer if a step is slow: about ``budget`` seconds in all)."""
    model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)  # trace
    start = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    per_step = time.perf_counter() - start
    steps = max(1, min(steps, int(budget / per_step)))
    start = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return batch * steps / (time.perf_counter() - start)


def measure(name: str, argv: list[str], batches: int, steps: int) -> dict:
    cfg = resolve(parse_args(argv))
    source = example_sources.examples(cfg, Store(cfg.store_path, cfg.store_kind), "train")
    ds = data_loader.dataset(cfg, source, cfg.batch_size)
    loader = loader_speed(ds, cfg.batch_size, batches)
    cached = ds.take(1).cache().repeat()
    keras.utils.set_random_seed(0)
    model = compiled_model(cfg)
    train = fit_speed(model, cached, cfg.batch_size, steps)
    real = fit_speed(model, ds, cfg.batch_size, steps)
    return {"name": name, "batch": cfg.batch_size, "loader": loader, "train": train, "fit": real}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(PIPELINES))
    parser.add_argument("--batches", type=int, default=40, help="batches timed for the loader alone")
    parser.add_argument("--steps", type=int, default=10, help="training steps timed per measurement")
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args()
    lines = [
        f"Input pipeline vs training, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__} ({keras.backend.backend()}), small preset, embedded default store.",
        "",
        "| model | batch | loader examples/s | train samples/s (cached batch) | loader / train "
        "| fit samples/s (real pipeline) | real / cached |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.only or PIPELINES:
        r = measure(name, PIPELINES[name], args.batches, args.steps)
        lines.append(
            f"| {r['name']} | {r['batch']} | {r['loader']:.0f} | {r['train']:.1f} | "
            f"{r['loader'] / r['train']:.1f}x | {r['fit']:.1f} | {r['fit'] / r['train']:.2f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
