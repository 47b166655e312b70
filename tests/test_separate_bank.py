"""Several dedicated models separating as one (``cunet-separate a:b``, ``load_separator([a, b])``, the results
command's ``--together``): each member's own stems, one Wiener filter weighing all their estimates, and the
models that cannot join refused by name."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest
from test_separate import _save_run, _song

from cunet import audio
from cunet.errors import InputError
from cunet.models import ModelConfig
from cunet.models.card import card_for, save_card
from cunet.separation.__main__ import main
from cunet.separation.load import load_separator

EXACT = {"precision": "float32"}
BINS, SPLIT = 512, 128  # a stand-in's patch bins; its gain changes at this bin (1.4 kHz at 11025 Hz)


def _band_gain_run(folder: Path, target: str, low: float, high: float, frames: int = 128) -> Path:
    """A stand-in U-Net for ``target`` whose mask is ``low`` below bin SPLIT and ``high`` from there up:
    a diagonal Dense over the bins, so every bin is scaled by its own known gain."""
    mag = keras.Input((BINS, frames, 1), name="magnitude")
    x = keras.layers.Permute((2, 3, 1))(mag)  # (frames, 1, bins)
    x = keras.layers.Dense(BINS, use_bias=False, name="gain")(x)
    model = keras.Model(mag, keras.layers.Permute((3, 1, 2))(x))
    gains = np.where(np.arange(BINS) < SPLIT, low, high).astype(np.float32)
    model.get_layer("gain").set_weights([np.diag(gains)])
    cfg = ModelConfig(model="unet", n_frames=frames)
    folder.mkdir(parents=True)
    _save_run(model, cfg, folder, card=False)
    save_card(card_for(cfg, target), folder)
    return folder


@pytest.fixture(scope="module")
def band_runs(tmp_path_factory) -> dict[str, Path]:
    """bass: most of the low band; vocals: most of the high one; neither mask adds up to one with the other's."""
    root = tmp_path_factory.mktemp("bank")
    return {
        "bass": _band_gain_run(root / "unet-bass", "bass", 0.6, 0.1),
        "vocals": _band_gain_run(root / "unet-vocals", "vocals", 0.1, 0.6),
    }


def _energy(x: np.ndarray, low: bool) -> float:
    """Energy below (or above) SPLIT's frequency at 44.1 kHz, away from the edge."""
    edge = SPLIT * audio.CUNET_STFT.sample_rate / audio.CUNET_STFT.n_fft
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / 44100)
    keep = (freqs > 50) & (freqs < 0.8 * edge) if low else (freqs > 1.25 * edge) & (freqs < 5000)
    return float(spec[..., keep].sum())


def test_models_together_give_each_ones_stems_and_targets_pick_among_all(band_runs):
    x = _song(6.0)
    bank = load_separator([band_runs["bass"], band_runs["vocals"]], **EXACT)
    assert bank.targets == ("bass", "vocals")
    out = bank.separate(x, 44100)
    for target, folder in band_runs.items():
        alone = load_separator(folder, **EXACT).separate(x, 44100)[target]
        np.testing.assert_allclose(out[target], alone, atol=1e-5)  # without Wiener: each model's masks as they are
    # a string joined by os.pathsep (the command line's spelling), and --targets across the members
    picked = load_separator(os.pathsep.join(map(str, band_runs.values())), targets=("vocals",), **EXACT)
    assert list(picked.separate(x, 44100)) == ["vocals"]
    np.testing.assert_allclose(picked.separate(x, 44100)["vocals"], out["vocals"], atol=1e-5)


def test_together_one_wiener_filter_weighs_every_models_estimate(band_runs):
    """Alone, bass's filter weighs its estimate (0.6 of the low band) against the rest (0.4): a share of
    0.36 / (0.36 + 0.16) of the low band's power. Together, the rest is vocals' 0.1 and what neither takes,
    0.3: 0.36 / (0.36 + 0.01 + 0.09). The stems with the residual add up to the input either way."""
    x = _song(6.0)
    bank = load_separator(list(band_runs.values()), wiener=1, residual=True, **EXACT).separate(x, 44100)
    alone = load_separator(band_runs["bass"], wiener=1, residual=True, **EXACT).separate(x, 44100)
    np.testing.assert_allclose(sum(bank.values()), x, atol=1e-4)
    low = _energy(x, low=True)
    share_alone, share_together = _energy(alone["bass"], True) / low, _energy(bank["bass"], True) / low
    # a Wiener share is a mask on magnitudes: the power share is its square
    assert share_together > share_alone + 0.05, (share_alone, share_together)
    assert abs(np.sqrt(share_alone) - 0.36 / 0.52) < 0.01 and abs(np.sqrt(share_together) - 0.36 / 0.46) < 0.01
    assert _energy(bank["vocals"], False) > 0.5 * _energy(x, False)  # vocals keeps the high band


def test_the_command_separates_with_models_joined_by_pathsep(band_runs, tmp_path):
    x = _song(3.0)
    song = tmp_path / "song.wav"
    audio.write(song, x, 44100, "FLOAT")
    joined = os.pathsep.join(map(str, band_runs.values()))
    assert main([joined, str(song), "-o", str(tmp_path / "out"), "--quiet", "--precision", "float32"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "song").iterdir()) == ["bass.wav", "vocals.wav"]


def test_models_that_cannot_separate_together_are_named(band_runs, tmp_path, capsys):
    twice = _band_gain_run(tmp_path / "unet-bass-2", "bass", 0.5, 0.5)
    with pytest.raises(InputError, match="estimates bass, as .*unet-bass does") as err:
        load_separator([band_runs["bass"], twice])
    assert err.value.path == str(twice)
    other_patch = _band_gain_run(tmp_path / "unet-drums", "drums", 0.5, 0.5, frames=64)
    with pytest.raises(InputError, match="must share them") as err:
        load_separator([band_runs["bass"], other_patch])
    assert err.value.path == str(other_patch)
    song = tmp_path / "song.wav"
    audio.write(song, _song(1.0), 44100, "FLOAT")
    joined = os.pathsep.join(map(str, band_runs.values()))
    assert main([joined, str(song), "-o", str(tmp_path / "out"), "--targets", "guitar", "--quiet"]) == 2
    said = capsys.readouterr().err
    assert "--targets guitar" in said and "bass, vocals" in said and str(band_runs["bass"]) in said
    assert not (tmp_path / "out").exists()
