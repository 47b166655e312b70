import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_musdb

from cunet import audio
from cunet.datasets import acappella
from cunet.errors import InputError
from cunet.preprocess.__main__ import main


def _load(path):
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes, but the lock files' (they hold the last writer's process id)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".cunet.lock")
    }


def test_music_store_holds_the_stft_of_every_stem(tiny_stores, tiny_root):
    store = tiny_stores / "musdb"
    manifest = json.loads((store / "manifest.json").read_text())
    assert (manifest["kind"], manifest["sample_rate"], manifest["stft"]["n_fft"], manifest["stft"]["hop"]) == (
        "music",
        8192,
        1024,
        256,
    )
    track = manifest["tracks"][0]
    source = tiny_root / "musdb" / ("train" if track["split"] != "test" else "test") / track["name"]
    peaks = []
    for stem in manifest["stems"]:
        spec = _load(store / track["folder"] / f"{stem}.npy")
        assert isinstance(spec, np.memmap) and spec.dtype == np.complex64 and spec.shape == (513, track["n_frames"])
        want = audio.stft(audio.read(source / f"{stem}.wav", 8192, 1)[0][0], audio.CUNET_STFT)
        np.testing.assert_array_equal(spec, want)
        peaks.append(np.abs(spec).max())
    assert track["max_magnitude"] == pytest.approx(max(peaks))


def test_music_indexes_cover_every_patch_and_keep_validation_out(tiny_stores):
    store = tiny_stores / "musdb"
    manifest = json.loads((store / "manifest.json").read_text())
    tracks = manifest["tracks"]
    train, valid = _load(store / "indexes/train.npy"), _load(store / "indexes/valid.npy")
    conds = _load(store / "indexes/conditions.npy")
    np.testing.assert_array_equal(conds, np.eye(4, dtype=np.float32))
    assert train.dtype == np.int32 and train.shape[1] == 3
    expect_train = sum(4 * (t["n_frames"] - 127) for t in tracks if t["split"] == "train")
    expect_valid = sum(4 * ((t["n_frames"] - 128) // 128 + 1) for t in tracks if t["split"] == "valid")
    assert len(train) == expect_train > 0 and len(valid) == expect_valid > 0
    splits = np.array([t["split"] for t in tracks])
    assert set(splits[train[:, 0]]) == {"train"} and set(splits[valid[:, 0]]) == {"valid"}
    assert manifest["splits"]["valid_tracks"] == sorted(t["name"] for t in tracks if t["split"] == "valid")
    ends = train[:, 1] + 128
    assert (ends <= np.array([t["n_frames"] for t in tracks])[train[:, 0]]).all()
    assert np.diff(np.unique(train[train[:, 0] == train[0, 0], 1])).max() == 1  # hop 1 frame
    assert set(np.diff(np.unique(valid[valid[:, 0] == valid[0, 0], 1]))) <= {128}
    assert set(train[:, 2]) == {0, 1, 2, 3}


def test_singing_store_holds_waveforms_frames_and_clip_index(tiny_stores, tiny_root):
    store = tiny_stores / "acappella"
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["kind"] == "singing" and manifest["sample_rate"] == 16384
    samples = {s.id: s for s in acappella.scan(tiny_root / "acappella")}
    track = manifest["tracks"][0]
    src = samples[track["name"]]
    np.testing.assert_array_equal(_load(store / track["folder"] / "voice.npy"), src.load_audio())
    np.testing.assert_array_equal(_load(store / track["folder"] / "frames.npy"), np.load(src.frames_path))
    assert _load(store / track["folder"] / "landmarks.npy").dtype == np.int16
    train = _load(store / "indexes/train.npy")
    assert train.shape[1] == 2 and len(train) > 0
    n_samples = np.array([t["n_samples"] for t in manifest["tracks"]])[train[:, 0]]
    n_frames = np.array([t["n_frames"] for t in manifest["tracks"]])[train[:, 0]]
    assert (train[:, 1] + 100 <= n_frames).all()
    assert (np.round(train[:, 1] * 655.36) + 65535 <= n_samples).all()
    assert {manifest["tracks"][i]["split"] for i in np.unique(train[:, 0])} == {"train"}
    valid = _load(store / "indexes/valid.npy")
    assert {manifest["tracks"][i]["split"] for i in np.unique(valid[:, 0])} == {"val_seen"}
    cats = {a["category"] for a in manifest["accompaniment"]}
    assert len(cats) == 4 and manifest["accompaniment_for_split"]["train"] == "unbalanced_train"
    clip = manifest["accompaniment"][0]
    assert _load(store / clip["folder"] / "audio.npy").shape == (clip["n_samples"],)


def _run_in(folder: Path, data: Path, *args: str) -> int:
    """Run the command from ``folder`` with the dataset linked as ./data, so recorded paths are relative."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "data").exists():
        os.symlink(data, folder / "data")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return main(["--root", "data", "--out", "stores", "--size", "tiny", "--quiet", *args])
    finally:
        os.chdir(cwd)


def test_same_seed_same_bytes_whatever_jobs_and_shards(tiny_root, tmp_path):
    assert _run_in(tmp_path / "a", tiny_root) == 0
    assert _run_in(tmp_path / "b", tiny_root, "--jobs", "2") == 0
    reference = _files(tmp_path / "a" / "stores")
    assert _files(tmp_path / "b" / "stores") == reference
    assert _run_in(tmp_path / "c", tiny_root, "--shard", "0/2") == 0
    assert not (tmp_path / "c" / "stores" / "musdb" / "manifest.json").exists()
    assert _run_in(tmp_path / "c", tiny_root, "--shard", "1/2") == 0
    assert _files(tmp_path / "c" / "stores") == reference


def test_rerun_skips_finished_tracks_and_redoes_missing_ones(tiny_root, tmp_path):
    assert _run_in(tmp_path / "r", tiny_root) == 0
    store = tmp_path / "r" / "stores" / "musdb"
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.npy") if "tracks" in p.parts}
    reference = _files(store)
    victim = sorted((store / "tracks").iterdir())[0]
    for f in victim.iterdir():
        f.unlink()
    victim.rmdir()
    assert _run_in(tmp_path / "r", tiny_root) == 0
    after = {p: p.stat().st_mtime_ns for p in store.rglob("*.npy") if "tracks" in p.parts}
    changed = {p.parent.name for p in before if before[p] != after[p]}
    assert changed == {victim.name}
    assert _files(store) == reference


def test_rerun_redoes_a_track_whose_source_changed_at_the_same_size(small_musdb, tmp_path):
    out = tmp_path / "store"
    args = ["--dataset", "musdb", "--root", str(small_musdb), "--out", str(out), "--quiet"]
    assert main(args) == 0
    old = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npy")}
    stem = small_musdb / "train" / "C - Three" / "vocals.wav"
    x, rate = audio.read(stem)
    size = stem.stat().st_size
    audio.write(stem, -x, rate, "FLOAT")
    assert stem.stat().st_size == size
    assert main(args) == 0
    changed = {str(p) for p, data in old.items() if (out / p).read_bytes() != data}
    assert changed == {"tracks/C_-_Three/vocals.npy"}


def test_condition_options_and_overrides(small_musdb, tmp_path):
    out = tmp_path / "store"
    assert (
        main(
            [
                "--dataset",
                "musdb",
                "--root",
                str(small_musdb),
                "--out",
                str(out),
                "--quiet",
                "--add-zero",
                "--add-all",
                "--set",
                "patch_frames=16",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["conditions"]["names"] == ["bass", "drums", "other", "vocals", "all", "silence"]
    conds = np.load(out / "indexes/conditions.npy")
    np.testing.assert_array_equal(conds[4:], [[1, 1, 1, 1], [0, 0, 0, 0]])
    train = np.load(out / "indexes/train.npy")
    assert set(train[:, 2]) == set(range(6)) and manifest["indexes"]["train"]["patch_frames"] == 16


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cunet.preprocess", "--quiet", *args], capture_output=True, text=True, timeout=300
    )


def _damage(root: Path, how: str) -> Path:
    track = root / "train" / "B - Two"
    if how == "missing stem":
        (track / "bass.wav").unlink()
        return track / "bass.wav"
    if how == "different lengths":
        x, rate = audio.read(track / "drums.wav")
        audio.write(track / "drums.wav", x[:, :-1], rate, "FLOAT")
        return track
    if how == "truncated file":
        data = (track / "vocals.wav").read_bytes()
        (track / "vocals.wav").write_bytes(data[:1000])
        return track / "vocals.wav"
    (track / "other.wav").write_bytes(b"RIFF....junk")
    return track / "other.wav"


@pytest.mark.parametrize("how", ["missing stem", "different lengths", "truncated file", "unreadable file"])
def test_bad_music_input_exits_nonzero_naming_the_file_with_nothing_written(small_musdb, tmp_path, how):
    culprit = _damage(small_musdb, how)
    out = tmp_path / "store"
    result = _cli("--dataset", "musdb", "--root", str(small_musdb), "--out", str(out))
    assert result.returncode == 2
    assert str(culprit) in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()  # every header is checked before anything is written


@pytest.mark.parametrize("layout", ["empty", "mislaid"])
def test_empty_or_mislaid_dataset_folder(small_musdb, tmp_path, layout):
    root = tmp_path / "empty" if layout == "empty" else small_musdb / "train"
    root.mkdir(exist_ok=True)
    result = _cli("--dataset", "musdb", "--root", str(root), "--out", str(tmp_path / "store"))
    assert result.returncode == 2 and str(root) in result.stderr and "not a MUSDB18 layout" in result.stderr


def test_frames_disagreeing_with_audio(tiny_root, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(tiny_root / "acappella", root / "acappella")
    shutil.copytree(tiny_root / "accompaniment", root / "accompaniment")
    sample = acappella.scan(root / "acappella")[3]
    for path in (sample.frames_path, sample.landmarks_path):
        np.save(path, np.load(path)[:-10])
    result = _cli("--dataset", "acappella", "--root", str(root / "acappella"), "--out", str(tmp_path / "s"))
    assert result.returncode == 2 and str(sample.frames_path) in result.stderr
    assert "disagree with the audio" in result.stderr and not (tmp_path / "s").exists()


def test_failure_while_writing_leaves_no_partial_track(small_musdb, tmp_path, monkeypatch):
    from cunet.preprocess import spectrogram

    calls, real_stft = [], audio.stft

    def failing_stft(x, cfg):
        calls.append(1)
        if len(calls) == 8:  # the third stem of the second track
            raise InputError("B - Two/drums.wav", "decoder lost sync")
        return real_stft(x, cfg)

    monkeypatch.setattr(spectrogram.audio, "stft", failing_stft, raising=True)
    out = tmp_path / "store"
    # --jobs 1: the failure is patched into this process, not into worker processes
    assert main(["--dataset", "musdb", "--root", str(small_musdb), "--out", str(out), "--jobs", "1", "--quiet"]) == 2
    monkeypatch.undo()
    tracks = sorted(p.name for p in (out / "tracks").iterdir())
    assert tracks == ["A_-_One"]  # the first track whole, the failed one absent, no temporary folders
    assert not (out / "manifest.json").exists()
    assert main(["--dataset", "musdb", "--root", str(small_musdb), "--out", str(out), "--quiet"]) == 0
    assert len(json.loads((out / "manifest.json").read_text())["tracks"]) == 4


def test_refuses_unknown_keys_and_foreign_folders(small_musdb, tmp_path, capsys):
    assert (
        main(
            [
                "--dataset",
                "musdb",
                "--root",
                str(small_musdb),
                "--out",
                str(tmp_path / "s"),
                "--quiet",
                "--set",
                "patch_frame=3",
            ]
        )
        == 2
    )
    assert "patch_frame" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert main(["--dataset", "musdb", "--root", str(small_musdb), "--out", str(foreign), "--quiet"]) == 2
    assert "not a cunet store" in capsys.readouterr().err and (foreign / "thesis.tex").read_text() == "precious"


def test_musdb_validation_names_in_a_real_layout(tmp_path):
    root = make_musdb(tmp_path / "m", ["Leaf - Summerghost", "Zed - Song"], ["T - Test"], seconds=17.0, rate=8192)
    out = tmp_path / "store"
    assert main(["--dataset", "musdb", "--root", str(root), "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"] == {"valid_tracks": ["Leaf - Summerghost"], "valid_chosen_by": "musdb18-official"}
    valid = np.load(out / "indexes/valid.npy")
    names = [t["name"] for t in manifest["tracks"]]
    assert {names[i] for i in valid[:, 0]} == {"Leaf - Summerghost"}
    assert "Leaf - Summerghost" not in {names[i] for i in np.load(out / "indexes/train.npy")[:, 0]}
