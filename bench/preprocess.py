"""How many times faster than real time `python -m cunet.preprocess` writes the C-U-Net store.

Input: synthetic songs in the MUSDB18-HQ layout (44.1 kHz stereo PCM wav, five files per song), the
format preprocessing meets in practice. Measured side by side in one run:

* cunet's store writer with 1 and with 2 worker processes (target: >= 300x real time on 2 cores);
* the original C-U-Net's recipe (librosa.load at 8192 Hz mono, librosa.stft, np.savez per song);
* how long the embedded default dataset takes to generate (target: < 60 s on 2 cores).

    python bench/preprocess.py [--songs 6] [--seconds 120]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import librosa
import numpy as np

from cunet import audio
from cunet.datasets import synthetic
from cunet.datasets.musdb import STEMS
from cunet.preprocess.build import music_store
from cunet.preprocess.config import PreprocessConfig


def write_song(args):
    root, index, seconds = args
    stems = synthetic.music_track(1234, index, seconds)
    subset = "test" if index == 0 else "train"
    for stem in STEMS:
        audio.write(Path(root) / subset / f"Bench - Song {index:02d}" / f"{stem}.wav", stems[stem], 44100)


def original_recipe(root: Path, out: Path) -> None:
    """What the original preprocessing does per song (without its joblib): librosa end to end."""
    out.mkdir()
    for song in sorted(root.glob("*/*")):
        specs = {}
        for stem in STEMS:
            y, _ = librosa.load(song / f"{stem}.wav", sr=8192, mono=True)
            specs[stem] = librosa.stft(y, n_fft=1024, hop_length=256)
        np.savez(out / f"{song.name}.npz", **specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cunet-bench-"))
    try:
        root = work / "musdb"
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(write_song, [(root, i, args.seconds) for i in range(args.songs)]))
        audio_seconds = args.songs * args.seconds
        print(
            f"input: {args.songs} songs x {args.seconds:.0f} s, 44.1 kHz stereo wav, 5 stems each "
            f"({sum(f.stat().st_size for f in root.rglob('*.wav')) / 2**20:.0f} MiB); {os.cpu_count()} cores"
        )
        rows = []
        for jobs in (1, 2):
            out = work / f"store{jobs}"
            start = time.perf_counter()
            music_store(PreprocessConfig(dataset="musdb", root=str(root)), root, out, workers=jobs, progress=False)
            rows.append((f"cunet preprocess, --jobs {jobs}", time.perf_counter() - start))
        start = time.perf_counter()
        original_recipe(root, work / "original")
        rows.append(
            ("original recipe (librosa.load + librosa.stft + np.savez), 1 process", time.perf_counter() - start)
        )
        for name, seconds in rows:
            print(f"{name:<72} {seconds:7.2f} s  {audio_seconds / seconds:7.1f}x real time")
        print(
            f"cunet --jobs 2 vs original recipe: {rows[2][1] / rows[1][1]:.1f}x faster; "
            f"target >= 300x real time: {'met' if audio_seconds / rows[1][1] >= 300 else 'NOT met'}"
        )
        start = time.perf_counter()
        synthetic.generate(work / "synthetic", seed=0, size="default", jobs=2, progress=False)
        took = time.perf_counter() - start
        print(
            f"embedded default dataset generated in {took:.1f} s with 2 processes "
            f"(target < 60 s: {'met' if took < 60 else 'NOT met'})"
        )
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
