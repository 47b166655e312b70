"""Separation of any length: lengths, channels and rates kept, blocks without seams, files written whole."""

from pathlib import Path

import keras
import numpy as np
import pytest

from cunet import audio
from cunet import config as config_io
from cunet.datasets.synthetic import music_track
from cunet.evaluation.separate import SeparateConfig, Separator, main, patch_starts, patch_weights
from cunet.train.models import ModelConfig, build_model


GAINS = {"bass": 0.1, "drums": 0.2, "other": 0.3, "vocals": 0.4}


def _save_run(model, cfg: ModelConfig, folder: Path) -> Path:
    model.save(folder / "model.keras")
    config_io.save(cfg, folder / "model_config.json")
    return folder


@pytest.fixture(scope="module")
def gain_run(tmp_path_factory) -> Path:
    """A stand-in C-U-Net with known masks: each condition scales the magnitude by its GAINS value.

    Separation with it must return exactly that gain times the input band-limited to the model's rate,
    which pins down conditions, patches, blocks and resampling without any training.
    """
    mag = keras.Input((512, 128, 1), name="magnitude")
    z = keras.Input((4, 1), name="condition")
    gain = keras.layers.Dense(1, use_bias=False, name="gain")(keras.layers.Flatten()(z))
    model = keras.Model([mag, z], keras.layers.Multiply()([mag, keras.layers.Reshape((1, 1, 1))(gain)]))
    model.get_layer("gain").set_weights([np.array([[GAINS[s]] for s in sorted(GAINS)], np.float32)])
    return _save_run(model, ModelConfig(model="cunet", control="cnn"), tmp_path_factory.mktemp("gain"))


@pytest.fixture(scope="module")
def cunet_run(tmp_path_factory) -> Path:
    """A real (untrained) C-U-Net run folder."""
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="cunet", film="complex", control="cnn")
    return _save_run(build_model(cfg), cfg, tmp_path_factory.mktemp("cunet"))


def _band_limited(x: np.ndarray, rate: int) -> np.ndarray:
    y = audio.resample(audio.resample(x, rate, audio.CUNET_STFT.sample_rate), audio.CUNET_STFT.sample_rate, rate)
    return np.pad(y, ((0, 0), (0, max(0, x.shape[1] - y.shape[1]))))[:, : x.shape[1]]


def _song(seconds: float, rate: int = 44100, channels: int = 2) -> np.ndarray:
    stems = music_track(1, 0, seconds)
    x = sum(v.astype(np.float32) for v in stems.values()) / 32768
    x = audio.resample(x, 44100, rate) if rate != 44100 else x
    return x[:channels] if channels <= 2 else x


def test_patch_weights_sum_to_one_where_patches_overlap():
    for overlap in (0, 16, 32, 64):
        w = patch_weights(overlap)
        starts = patch_starts(1000, overlap)
        total = np.zeros(starts[-1] + 128)
        for s in starts:
            total[s: s + 128] += w
        assert starts[-1] + 128 >= 1000
        np.testing.assert_allclose(total[overlap: 1000 - overlap], 1.0, atol=1e-6)


@pytest.mark.parametrize("seconds,rate,channels", [(0.5, 44100, 2), (7.3, 44100, 2), (3.1, 22050, 1)])
def test_each_target_is_its_mask_times_the_band_limited_input(gain_run, seconds, rate, channels):
    sep = Separator.load(gain_run, SeparateConfig(block_seconds=3.0, context_seconds=0.5))
    x = _song(seconds, rate, channels)
    out = sep.separate(x, rate)
    assert list(out) == ["bass", "drums", "other", "vocals"]
    want = _band_limited(x, rate)
    for target, y in out.items():
        assert y.shape == x.shape and y.dtype == np.float32  # no tail dropped, channels and rate kept
        err = np.sqrt(np.mean((y - GAINS[target] * want) ** 2) / np.mean((GAINS[target] * want) ** 2))
        assert err < 0.01, (target, err)  # blocks of 3 s join without seams


def test_blocks_and_patch_overlaps_agree_on_a_real_model(cunet_run):
    x = _song(9.0)
    whole = Separator.load(cunet_run, SeparateConfig(block_seconds=60.0)).separate(x, 44100)
    blocks = Separator.load(cunet_run, SeparateConfig(block_seconds=2.5, context_seconds=0.5)).separate(x, 44100)
    for target in whole:
        a, b = whole[target], blocks[target]
        assert a.shape == x.shape and np.isfinite(a).all()
        err = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(a ** 2))
        assert err < 0.05, (target, err)  # patch positions differ between the two; no block edge shows


def test_command_writes_every_target_and_refuses_bad_input(gain_run, cunet_run, tmp_path, capsys):
    songs = tmp_path / "songs"
    audio.write(songs / "a.wav", _song(2.0), 44100, "FLOAT")
    audio.write(songs / "sub" / "b.flac", _song(1.0, channels=1), 44100)
    out = tmp_path / "out"
    assert main([str(gain_run), str(songs), "-o", str(out), "--quiet"]) == 0
    for name, channels, n in (("a", 2, 88200), ("b", 1, 44100)):
        x, _ = audio.read(songs / (f"{name}.wav" if name == "a" else "sub/b.flac"))
        for target in ("bass", "drums", "other", "vocals"):
            y, rate = audio.read(out / name / f"{target}.wav")
            assert rate == 44100 and y.shape == (channels, n)
            np.testing.assert_allclose(y, GAINS[target] * _band_limited(x, 44100), atol=2e-3)
    assert main([str(cunet_run), str(songs / "*.wav"), "-o", str(tmp_path / "flac"), "--quiet",
                 "--template", "{target}-{name}.flac"]) == 0
    assert sorted(p.name for p in (tmp_path / "flac").iterdir()) == [
        "bass-a.flac", "drums-a.flac", "other-a.flac", "vocals-a.flac"]

    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnot audio at all")
    not_model = tmp_path / "fake"
    not_model.mkdir()
    (not_model / "model.keras").write_bytes(b"zip? no")
    config_io.save(ModelConfig(), not_model / "model_config.json")
    cases = [([str(cunet_run), str(tmp_path / "empty")], "holds no .wav or .flac"),
             ([str(cunet_run), str(bad)], "bad.wav"),
             ([str(cunet_run), str(tmp_path / "missing.wav")], "no such file"),
             ([str(not_model), str(songs / "a.wav")], "is not a loadable cunet model"),
             ([str(tmp_path), str(songs / "a.wav")], "no such model file")]
    for argv, message in cases:
        target = tmp_path / "refused"
        assert main(argv + ["-o", str(target), "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not target.exists()  # nothing half-written


def test_wiener_post_filter_gives_the_posterior_of_known_masks(gain_run, tmp_path):
    """With masks g_j the sources' powers are g_j^2 |X|^2, so one Wiener iteration returns
    g_j^2 / sum_k g_k^2 times the (band-limited) input, for mono and for identical stereo channels."""
    x = _song(3.0, rate=22050, channels=1)
    total = sum(g * g for g in GAINS.values())
    for x in (x, np.repeat(x, 2, 0)):
        out = Separator.load(gain_run, SeparateConfig(wiener=1)).separate(x, 22050)
        want = _band_limited(x, 22050)
        for target, g in GAINS.items():
            np.testing.assert_allclose(out[target], g * g / total * want, atol=2e-4 * np.abs(want).max())


def test_wiener_estimates_add_up_to_the_mixture():
    from cunet.evaluation.wiener import wiener

    rng = np.random.default_rng(0)
    mixture = (rng.standard_normal((2, 65, 40)) + 1j * rng.standard_normal((2, 65, 40))).astype(np.complex64)
    masks = rng.uniform(0, 1, (4, 1, 65, 40))
    out = wiener(masks * mixture[None], mixture, iterations=2)
    assert out.shape == (4, 2, 65, 40)
    np.testing.assert_allclose(out.sum(0), mixture, atol=1e-4)
    one = wiener(masks[:1] * mixture[None], mixture, iterations=1, complete=False)
    assert one.shape == (1, 2, 65, 40) and not np.allclose(one[0], masks[0] * mixture)
