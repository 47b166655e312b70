import shutil
from pathlib import Path

import numpy as np
import pytest
import stem_layouts

from cunet import audio
from cunet.datasets import synthetic


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """The embedded dataset at its smallest size, seed 0 (shared, read-only)."""
    return synthetic.generate(tmp_path_factory.mktemp("synthetic") / "data", seed=0, size="tiny", progress=False)


@pytest.fixture(scope="session")
def tiny_stores(tiny_root, tmp_path_factory) -> Path:
    from cunet.preprocess.__main__ import main

    out = tmp_path_factory.mktemp("stores") / "synthetic"
    assert main(["--root", str(tiny_root), "--out", str(out), "--size", "tiny", "--quiet"]) == 0
    return out


def make_musdb(root: Path, names_train, names_test, seconds=2.0, rate=44100, seed=0) -> Path:
    """A small MUSDB18-HQ tree of noise stems whose mixture is their sum."""
    rng = np.random.default_rng(seed)
    for subset, names in (("train", names_train), ("test", names_test)):
        for name in names:
            stems = {
                s: (0.1 * rng.standard_normal((2, int(seconds * rate)))).astype(np.float32)
                for s in ("vocals", "drums", "bass", "other")
            }
            stems["mixture"] = sum(stems.values())
            for stem, x in stems.items():
                audio.write(root / subset / name / f"{stem}.wav", x, rate, "FLOAT")
    return root


@pytest.fixture
def small_musdb(tmp_path) -> Path:
    return make_musdb(tmp_path / "musdb", ["A - One", "B - Two", "C - Three"], ["D - Four"])


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# 4 epochs each, of U-Nets with 8 first filters (a quarter of the paper size's arithmetic); the Y-Net's steps
# cost more on 2 cores, so it takes fewer and smaller ones
SMALL = ["--steps", "20", "--set", "model.first_filters=8"]
TRAINED = {
    "unet": ["--model", "unet", "--target", "vocals", *SMALL],
    "cunet": ["--model", "cunet", *SMALL],
    # 16 steps of 2: after 8 the batch-norm moving statistics that validation uses have not settled, and
    # the validation loss is above the untrained model's (measured: 13.45 against 12.78; 3.92 after 16)
    "ynet": ["--model", "ynet", "--visual", "landmarks", "--steps", "16", "--batch-size", "2"],
}


@pytest.fixture(scope="session")
def trained_runs(tiny_stores, tmp_path_factory) -> dict:
    """A U-Net (vocals), a C-U-Net and a landmark Y-Net, each trained 4 short epochs on the tiny stores (shared
    by the training, results and pipeline tests): {name: (argv, run folder)}."""
    from cunet.train.__main__ import main as train_main

    runs = {}
    for name, argv in TRAINED.items():
        kind = "acappella" if name == "ynet" else "musdb"
        folder = tmp_path_factory.mktemp("runs") / name
        args = argv + ["--store", str(tiny_stores / kind), "--run-dir", str(folder), "--epochs", "4", "--quiet"]
        assert train_main(args) == 0
        runs[name] = (args, folder)
    return runs


SIX = stem_layouts.SIX


@pytest.fixture(scope="session")
def six_store(tmp_path_factory):
    """A six-source MoisesDB store (its dataset beside it, in ../db): guitar missing from two train songs and
    one test song (s7), piano from a train song; 64-frame patches."""
    songs = {f"s{i}": dict(stem_layouts.FULL) for i in range(8)}
    for song in ("s1", "s2", "s7"):
        del songs[song]["guitar"]
    del songs["s3"]["piano"]
    from cunet.preprocess.__main__ import main as preprocess_main

    tmp = tmp_path_factory.mktemp("six")
    root = stem_layouts.moisesdb(tmp / "db", songs)
    out = tmp / "store"
    assert (
        preprocess_main(
            [
                "--dataset",
                "moisesdb",
                "--root",
                str(root),
                "--out",
                str(out),
                "--sources",
                *SIX,
                "--test-tracks",
                "s6",
                "s7",
                "--valid-tracks",
                "s5",
                "--patch-frames",
                "64",
                "--quiet",
                "--jobs",
                "1",
                "--add-zero",
            ]
        )
        == 0
    )
    return out


SIX_TRAIN = [
    "--steps",
    "3",
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--quiet",
    "--set",
    "model.first_filters=4",
    "--set",
    "model.n_frames=64",
]


@pytest.fixture(scope="session")
def six_runs(six_store, tmp_path_factory):
    """A C-U-Net trained 250 steps of 8 on the six-source store (about 30 s on 2 cores: after it each
    condition's output is nearest its own source; after 60 steps of 4 it is not yet), a guitar U-Net 3 steps."""
    from cunet.train.__main__ import main as train

    runs = {}
    for name, argv in {
        "cunet": ["--model", "cunet", "--control", "cnn", *SIX_TRAIN, "--steps", "250", "--batch-size", "8"],
        "unet": ["--model", "unet", "--target", "guitar", *SIX_TRAIN],
    }.items():
        runs[name] = tmp_path_factory.mktemp("runs") / name
        assert train([*argv, "--store", str(six_store), "--run-dir", str(runs[name])]) == 0
    return runs
