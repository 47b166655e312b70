"""Speed and peak memory of C-U-Net four-target separation of a 3- and a 30-minute 44.1 kHz stereo file.

Each measurement runs in a fresh process (so that its peak resident memory is its own): load the model,
then separate the file into four targets written as float wav. The model is a C-U-Net (complex FiLM,
cnn control) with its initial weights: speed and memory do not depend on what it has learnt.

    python bench/separate.py [--model RUN] [--out bench/results/separate_cpu.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RATE = 44100


def make_song(path: Path, minutes: float, seed: int = 0) -> None:
    """A 3-minute song of the embedded dataset, repeated to ``minutes``, written block by block."""
    from cunet import audio
    from cunet.datasets.synthetic import music_track

    song = sum(v.astype(np.float32) for v in music_track(seed, 0, 180.0).values()) / 32768
    repeats = int(round(minutes / 3))
    with audio.writer(path, RATE, 2, "PCM_16") as write:
        for _ in range(repeats):
            write(song)


def make_model(folder: Path) -> None:
    import keras

    from cunet import config as config_io
    from cunet.train.models import ModelConfig, build_model

    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="cunet", film="complex", control="cnn")
    build_model(cfg).save(folder / "model.keras")
    config_io.save(cfg, folder / "model_config.json")


def peak_rss() -> int:
    """This process's own peak resident memory in bytes (VmHWM). Not getrusage's ru_maxrss: Linux carries the
    forking parent's resident size across exec into it, which made this benchmark report its parent's 2.4 GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: the best there is


def child(model: str, path: str, out: str) -> None:
    """One measurement, printed as JSON: seconds to load, seconds to separate, peak RSS in bytes."""
    start = time.perf_counter()
    from cunet import audio
    from cunet.evaluation.separate import Separator, separate_file

    sep = Separator.load(model)
    loaded = time.perf_counter()
    separate_file(sep, Path(path), Path(out))
    done = time.perf_counter()
    peak = peak_rss()
    seconds = audio.info(path).frames / RATE
    print(json.dumps({"load": loaded - start, "separate": done - loaded, "peak": peak, "seconds": seconds}))


def measure(model: Path, song: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(model), str(song), str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a run folder to use instead of an untrained C-U-Net")
    parser.add_argument("--minutes", type=float, nargs=2, default=(3.0, 30.0))
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else tmp / "model"
        if not args.model:
            model.mkdir()
            make_model(model)
        rows = []
        for minutes in args.minutes:
            song = tmp / f"song{minutes:g}.wav"
            make_song(song, minutes)
            rows.append(measure(model, song, tmp / f"out{minutes:g}"))
    lines = [f"C-U-Net four-target separation of 44.1 kHz stereo, {os.cpu_count()} CPU cores, TensorFlow backend.",
             "", "| input | separation | x real time | model load | peak memory |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seconds'] / 60:.0f} min | {r['separate']:.1f} s | {r['seconds'] / r['separate']:.1f}x | "
                     f"{r['load']:.1f} s | {r['peak'] / 2**30:.2f} GiB |")
    if len(rows) == 2:
        lines += ["", f"Peak memory, long over short input: {rows[1]['peak'] / rows[0]['peak']:.3f}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
