import shutil
import subprocess

import numpy as np
import pytest
from conftest import copy_tree, make_musdb

from cunet import audio
from cunet.datasets import acappella, musdb
from cunet.errors import InputError


def test_musdb_splits_with_seeded_validation(small_musdb):
    tracks, info = musdb.scan(small_musdb, valid_fraction=0.34, seed=3)
    again, _ = musdb.scan(small_musdb, valid_fraction=0.34, seed=3)
    assert [t.split for t in tracks] == [t.split for t in again]
    splits = {t.name: t.split for t in tracks}
    assert splits["D - Four"] == "test"
    assert sorted(info["valid_tracks"]) == sorted(n for n, s in splits.items() if s == "valid")
    assert len(info["valid_tracks"]) == 1 and info["valid_chosen_by"].startswith("seeded-fraction")


def test_musdb_official_validation_names_win(tmp_path):
    root = make_musdb(
        tmp_path / "m", ["Leaf - Summerghost", "Other - Song", "Triviul - Angelsaint"], ["X - Y"], seconds=0.2
    )
    tracks, info = musdb.scan(root)
    assert info == {
        "valid_tracks": ["Leaf - Summerghost", "Triviul - Angelsaint"],
        "valid_chosen_by": "musdb18-official",
    }
    assert {t.name for t in tracks if t.split == "train"} == {"Other - Song"}


def test_given_validation_tracks_and_unknown_names(small_musdb):
    tracks, info = musdb.scan(small_musdb, valid_tracks=["B - Two"])
    assert [t.name for t in tracks if t.split == "valid"] == ["B - Two"]
    with pytest.raises(InputError, match="not in the train folder"):
        musdb.scan(small_musdb, valid_tracks=["Nope"])


def test_musdb_track_loads_resampled_mono(small_musdb):
    tracks, _ = musdb.scan(small_musdb)
    track = tracks[0]
    assert track.check() == 88200
    stems = track.load(8192, 1)
    assert set(stems) == set(musdb.STEMS) and stems["mixture"].shape == (1, 16384)
    total = stems["vocals"] + stems["drums"] + stems["bass"] + stems["other"]
    np.testing.assert_allclose(stems["mixture"], total, atol=1e-5)


@pytest.mark.parametrize(
    "damage,message",
    [
        ("missing", "missing stem 'bass'"),
        ("length", "stems differ in length"),
        ("truncated", "truncated wav"),
        ("garbage", "unreadable audio file"),
    ],
)
def test_musdb_bad_tracks_name_file_and_problem(small_musdb, damage, message):
    track = small_musdb / "train" / "B - Two"
    if damage == "missing":
        (track / "bass.wav").unlink()
    elif damage == "length":
        x, rate = audio.read(track / "drums.wav")
        audio.write(track / "drums.wav", x[:, :-10], rate, "FLOAT")
    elif damage == "truncated":
        data = (track / "vocals.wav").read_bytes()
        (track / "vocals.wav").write_bytes(data[: len(data) // 3])
    else:
        (track / "other.wav").write_bytes(b"\0" * 100)
    tracks, _ = musdb.scan(small_musdb)
    bad = next(t for t in tracks if t.name == "B - Two")
    with pytest.raises(InputError, match=message) as err:
        bad.check()
    assert "B - Two" in str(err.value)


def test_musdb_mislaid_and_empty_folders(small_musdb, tmp_path):
    with pytest.raises(InputError, match="dataset folder not found"):
        musdb.scan(tmp_path / "nowhere")
    with pytest.raises(InputError, match="pass the folder that holds train/ and test/"):
        musdb.scan(small_musdb / "train")
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "test").mkdir()
    with pytest.raises(InputError, match="train: no tracks found"):
        musdb.scan(empty)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is needed to write and read .stem.mp4")
def test_musdb_stem_mp4_through_the_musdb_package(tmp_path):
    pytest.importorskip("musdb")
    rate, n = 44100, 44100
    rng = np.random.default_rng(0)
    stems = {s: 0.1 * rng.standard_normal((n, 2)) for s in ("drums", "bass", "other", "vocals")}
    mixture = sum(stems.values())
    for subset in ("train", "test"):
        (tmp_path / subset).mkdir()
        wavs = []
        for name, x in [("mixture", mixture)] + list(stems.items()):
            wav = tmp_path / f"{subset}_{name}.wav"
            audio.write(wav, x.T, rate, "PCM_16")
            wavs.append(wav)
        # A real .stem.mp4: five AAC streams in the musdb order (mixture, drums, bass, other, vocals).
        cmd = ["ffmpeg", "-loglevel", "error", "-y"]
        for w in wavs:
            cmd += ["-i", str(w)]
        for i in range(5):
            cmd += ["-map", str(i)]
        cmd += ["-c:a", "aac", "-b:a", "256k", str(tmp_path / subset / "Song - Title.stem.mp4")]
        subprocess.run(cmd, check=True)
    tracks, _ = musdb.scan(tmp_path, valid_fraction=0)
    track = next(t for t in tracks if t.subset == "train")
    assert track.is_stem_mp4
    loaded = track.load(8192, 1)
    ref = {k: audio.resample(v.T.mean(0, keepdims=True).astype(np.float32), rate, 8192) for k, v in stems.items()}
    for stem in ("drums", "vocals"):
        got = loaded[stem][0, 2000:6000]
        want = ref[stem][0, : loaded[stem].shape[1]][2000:6000]
        # AAC is lossy and may delay by its priming samples: compare at the best lag.
        lags = range(-2048, 2049)
        corr = max(np.corrcoef(loaded[stem][0, 2000 + d : 6000 + d], want)[0, 1] for d in lags if 2000 + d >= 0)
        assert corr > 0.9, (stem, corr, got.shape)


def test_acappella_scan_and_check(tiny_root):
    samples = acappella.scan(tiny_root / "acappella")
    assert len({s.id for s in samples}) == len(samples)
    n_samples, n_frames = samples[0].check()
    assert n_frames > 100 and abs(n_frames * acappella.SAMPLES_PER_FRAME - n_samples) <= acappella.SAMPLES_PER_FRAME


@pytest.mark.parametrize(
    "damage,message",
    [
        ("short_frames", "frames disagree with the audio"),
        ("landmarks_missing", "missing file of sample"),
        ("landmarks_count", "landmark frames but"),
        ("frames_dtype", "frames must be uint8"),
    ],
)
def test_acappella_bad_samples(tiny_root, tmp_path, damage, message):
    root = copy_tree(tiny_root / "acappella", tmp_path / "acappella")
    sample = acappella.scan(root)[0]
    frames = np.load(sample.frames_path)
    if damage == "short_frames":
        np.save(sample.frames_path, frames[:-5])
        np.save(sample.landmarks_path, np.load(sample.landmarks_path)[:-5])
    elif damage == "landmarks_missing":
        sample.landmarks_path.unlink()
    elif damage == "landmarks_count":
        np.save(sample.landmarks_path, np.load(sample.landmarks_path)[:-1])
    else:
        np.save(sample.frames_path, frames.astype(np.float32))
    with pytest.raises(InputError, match=message) as err:
        acappella.scan(root)[0].check()
    assert sample.id in str(err.value)


def test_acappella_mislaid(tmp_path, tiny_root):
    with pytest.raises(InputError, match="not an Acappella layout"):
        acappella.scan(tiny_root)  # the parent of the layout
    with pytest.raises(InputError, match="no accompaniment clips"):
        acappella.scan_accompaniment(tiny_root / "acappella", ["train"])  # the voices, not an accompaniment tree
    with pytest.raises(InputError, match="no accompaniment for split 'val_seen'"):
        acappella.scan_accompaniment(tmp_path, ["val_seen"])
