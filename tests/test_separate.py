"""Separation of any length at full band: lengths, channels and rates kept, blocks without seams,
the extensions above the model's band, the residual, the Wiener filter, files written whole."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from cunet import audio
from cunet import config as config_io
from cunet.datasets.synthetic import music_track
from cunet.errors import InputError
from cunet.models import ModelConfig, build_model
from cunet.models.card import card_for, save_card
from cunet.separation.load import load_separator
from cunet.separation.streaming import Source, overlap_add, patch_starts, patch_weights

GAINS = {"bass": 0.1, "drums": 0.2, "other": 0.3, "vocals": 0.4}
EXACT = {"precision": "float32"}  # the stand-in's gains exactly (bfloat16 rounds them to 3 digits)


def _save_run(model, cfg: ModelConfig, folder: Path, card: bool = True) -> Path:
    model.save(folder / "model.keras")
    config_io.save(cfg, folder / "model_config.json")
    if card:
        save_card(card_for(cfg), folder)
    return folder


@pytest.fixture(scope="module")
def gain_run(tmp_path_factory) -> Path:
    """A stand-in C-U-Net with known masks: each condition scales the magnitude by its GAINS value.

    Its mask is that gain at every bin of the model's band, so with the ``average`` extension every stem
    must be exactly the gain times the input at full band; this pins down conditions, patches, blocks,
    the mapping onto the input's STFT and the extension without any training. It has no model card: the
    folder is laid out as runs were before cards existed.
    """
    mag = keras.Input((512, 128, 1), name="magnitude")
    z = keras.Input((4, 1), name="condition")
    gain = keras.layers.Dense(1, use_bias=False, name="gain")(keras.layers.Flatten()(z))
    model = keras.Model([mag, z], keras.layers.Multiply()([mag, keras.layers.Reshape((1, 1, 1))(gain)]))
    model.get_layer("gain").set_weights([np.array([[GAINS[s]] for s in sorted(GAINS)], np.float32)])
    return _save_run(model, ModelConfig(model="cunet", control="cnn"), tmp_path_factory.mktemp("gain"), card=False)


@pytest.fixture(scope="module")
def cunet_run(tmp_path_factory) -> Path:
    """A real (untrained) C-U-Net run folder."""
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="cunet", film="complex", control="cnn", first_filters=8)
    return _save_run(build_model(cfg), cfg, tmp_path_factory.mktemp("cunet"))


def _song(seconds: float, rate: int = 44100, channels: int = 2) -> np.ndarray:
    stems = music_track(1, 0, seconds)
    x = sum(v.astype(np.float32) for v in stems.values()) / 32768
    x = audio.resample(x, 44100, rate) if rate != 44100 else x
    return x[:channels] if channels <= 2 else x


def _band_energy(x: np.ndarray, rate: int, lo: float, hi: float = np.inf) -> float:
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / rate)
    return float(spec[..., (freqs >= lo) & (freqs < hi)].sum())


def test_patch_weights_sum_to_one_where_patches_overlap():
    for overlap in (0, 16, 32, 64):
        starts = patch_starts(1000, 128, overlap)
        assert starts[-1] + 128 >= 1000
        ones = np.ones((len(starts), 3, 128), np.float32)
        np.testing.assert_allclose(overlap_add(ones, starts, 1000, overlap), 1.0, atol=1e-6)
        w = patch_weights(128, overlap)
        assert 0 < w.min() and w.max() <= 1
    with pytest.raises(ValueError, match="patch_overlap"):
        patch_starts(1000, 128, 65)


@pytest.mark.parametrize(
    "seconds,rate,channels", [(0.5, 44100, 2), (7.3, 44100, 2), (3.1, 22050, 1), (2.0, 8192, 1), (1e-4, 48000, 2)]
)
def test_each_stem_is_its_gain_times_the_input_at_full_band(gain_run, seconds, rate, channels):
    sep = load_separator(gain_run, block_seconds=3.0, context_seconds=0.5, batch_size=4, **EXACT)  # 3-s blocks
    x = _song(seconds, rate, channels)
    out = sep.separate(x, rate)
    assert list(out) == ["bass", "drums", "other", "vocals"] == list(sep.targets)
    for target, y in out.items():
        assert y.shape == x.shape and y.dtype == np.float32  # no tail dropped, channels and rate kept
        err = np.sqrt(np.mean((y - GAINS[target] * x) ** 2) / np.mean((GAINS[target] * x) ** 2))
        assert err < 1e-3, (target, err)  # blocks of 3 s join without seams, the band is whole


def test_zero_extension_leaves_the_band_above_the_model_to_the_residual(gain_run):
    x = _song(4.0)
    out = load_separator(gain_run, extend="zero", residual=True, **EXACT).separate(x, 44100)
    assert list(out)[-1] == "residual"
    high, low = _band_energy(x, 44100, 4300), _band_energy(x, 44100, 50, 3900)
    for target, g in GAINS.items():
        assert _band_energy(out[target], 44100, 4300) < 1e-4 * g * g * high
        assert _band_energy(out[target], 44100, 50, 3900) == pytest.approx(g * g * low, rel=0.01)
    np.testing.assert_allclose(sum(out.values()), x, atol=1e-4)  # the stems add up to the input
    assert _band_energy(out["residual"], 44100, 4300) == pytest.approx(high, rel=0.01)


def test_zero_extension_under_wiener_hands_the_band_above_to_a_residual_stem(gain_run):
    """Zero masks above the model's band make every Wiener estimate silent there (white noise's four stems
    kept 18 % of its energy at 44.1 kHz): the separator adds the residual stem, and the stems add up."""
    x = (0.1 * np.random.default_rng(0).standard_normal((2, 3 * 44100))).astype(np.float32)
    sep = load_separator(gain_run, extend="zero", wiener=1, **EXACT)
    out = sep.separate(x, 44100)
    assert list(out) == [*GAINS, "residual"] == list(sep.stems)
    np.testing.assert_allclose(sum(out.values()), x, atol=1e-4)
    assert _band_energy(out["residual"], 44100, 4300) == pytest.approx(_band_energy(x, 44100, 4300), rel=0.01)
    assert "residual" not in load_separator(gain_run, extend="average", wiener=1, **EXACT).stems


def test_real_layout_song_gives_full_band_stems_that_add_up(tiny_root, cunet_run):
    track = next((tiny_root / "musdb" / "test").iterdir())
    x, rate = audio.read(track / "mixture.wav")
    assert rate == 44100 and x.shape[0] == 2
    sep = load_separator(cunet_run, residual=True)
    out = sep.separate(x, rate)
    for target in sep.targets:  # a real network's masks, extended: hi-hats and sibilants are kept
        assert _band_energy(out[target], rate, 5000) > 1e-4 * _band_energy(x, rate, 5000), target
    np.testing.assert_allclose(sum(out.values()), x, atol=1e-4)


def test_blocks_and_patch_overlaps_agree_on_a_real_model(cunet_run):
    x = _song(9.0)
    whole = load_separator(cunet_run, block_seconds=60.0).separate(x, 44100)
    blocks = load_separator(cunet_run, block_seconds=2.5, context_seconds=0.5, batch_size=4).separate(x, 44100)
    for target in whole:
        a, b = whole[target], blocks[target]
        assert a.shape == x.shape and np.isfinite(a).all()
        err = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(a**2))
        assert err < 0.05, (target, err)  # patch positions differ between the two; no block edge shows


def test_wiener_post_filter_gives_the_posterior_of_known_masks_at_full_band(gain_run):
    """With masks g_j the sources' powers are g_j^2 |X|^2, so one Wiener iteration returns
    g_j^2 / sum_k g_k^2 times the input at every frequency, for mono and for identical stereo channels."""
    mono = _song(3.0, rate=22050, channels=1)
    total = sum(g * g for g in GAINS.values())
    for x in (mono, np.repeat(mono, 2, 0)):
        out = load_separator(gain_run, wiener=1, **EXACT).separate(x, 22050)
        for target, g in GAINS.items():
            np.testing.assert_allclose(out[target], g * g / total * x, atol=2e-4 * np.abs(x).max())


def test_wiener_estimates_add_up_to_the_mixture_at_every_frequency(cunet_run):
    x = _song(4.0)
    out = load_separator(cunet_run, wiener=1).separate(x, 44100)
    left = x - sum(out.values())
    assert _band_energy(left, 44100, 4300) < 1e-6 * _band_energy(x, 44100, 4300)
    assert _band_energy(left, 44100, 0, 4300) < 1e-6 * _band_energy(x, 44100, 0, 4300)


def test_wiener_filter_alone():
    from cunet.separation.wiener import wiener

    rng = np.random.default_rng(0)
    mixture = (rng.standard_normal((2, 65, 40)) + 1j * rng.standard_normal((2, 65, 40))).astype(np.complex64)
    masks = rng.uniform(0, 1, (4, 1, 65, 40))
    out = wiener(masks * mixture[None], mixture, iterations=2)
    assert out.shape == (4, 2, 65, 40)
    np.testing.assert_allclose(out.sum(0), mixture, atol=1e-4)
    one = wiener(masks[:1] * mixture[None], mixture, iterations=1, complete=False)
    assert one.shape == (1, 2, 65, 40) and not np.allclose(one[0], masks[0] * mixture)


@pytest.mark.xdist_group("trained_runs")
@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_bfloat16_and_int8_agree_with_float32_within_five_hundredths_of_a_db(trained_runs, tiny_root, precision):
    from cunet.evaluation.metrics import bss_eval_v3

    run = trained_runs["cunet"][1]
    seps = {p: load_separator(run, precision=p) for p in ("float32", precision)}
    assert seps[precision].precision == precision and seps["float32"].precision == "float32"
    worst = 0.0
    names = sorted(GAINS)
    for track in sorted((tiny_root / "musdb" / "test").iterdir()):
        x, rate = audio.read(track / "mixture.wav")
        refs = np.stack([audio.read(track / f"{t}.wav")[0].mean(0) for t in names])
        sdr = {
            p: bss_eval_v3(refs, np.stack([est[t].mean(0) for t in names]))["sdr"]
            for p, est in ((p, sep.separate(x, rate)) for p, sep in seps.items())
        }
        assert np.isfinite(sdr["float32"]).all()
        worst = max(worst, float(np.abs(sdr["float32"] - sdr[precision]).max()))
    assert 0 < worst < 0.05, worst
    if precision == "int8":  # a Y-Net is not converted: said before any work
        with pytest.raises(InputError, match="int8 is for U-Nets and C-U-Nets, not a ynet"):
            load_separator(trained_runs["ynet"][1], precision="int8")


def test_more_than_two_channels_keep_their_count(gain_run):
    x = np.concatenate([_song(2.0)] * 3)  # 5.1-like: six channels, masks from their mean
    out = load_separator(gain_run, **EXACT).separate(x, 44100)
    for target, y in out.items():
        assert y.shape == (6, x.shape[1])
        np.testing.assert_allclose(y, GAINS[target] * x, atol=1e-3)


def test_blocks_are_cut_so_that_patches_fill_whole_batches(cunet_run):
    for overlap, batch in ((16, 16), (32, 16), (16, 8), (0, 4)):
        sep = load_separator(cunet_run, patch_overlap=overlap, batch_size=batch)
        seconds = sep.block_seconds() + 2 * sep.cfg.context_seconds
        frames = 1 + int(round(seconds * 8192)) // 256
        assert (frames - 128) % (128 - overlap) == 0  # the last patch ends on the block's last frame
        patches = (frames - 128) // (128 - overlap) + 1
        assert patches * 4 % batch == 0 and abs(sep.block_seconds() - 20) < 10, (overlap, batch, patches)
        # the first block, which nothing overlaps, is the shortest that fills whole batches
        frames = 1 + int(round((sep.block_seconds(0.0) + 2 * sep.cfg.context_seconds) * 8192)) // 256
        assert (frames - 128) % (128 - overlap) == 0
        assert ((frames - 128) // (128 - overlap) + 1) * 4 == math.lcm(4, batch), (overlap, batch, frames)


def test_precision_clones_only_when_the_policy_changes():
    from cunet.models.card import card_for
    from cunet.separation.precision import with_precision

    cfg = ModelConfig(model="ynet", visual="landmarks", widths=(4, 8, 8, 8), graph_widths=(4,) * 8)
    model = build_model(cfg)
    assert with_precision(model, card_for(cfg), "float32") is model  # nested models included
    half = with_precision(model, card_for(cfg), "bfloat16")
    assert half is not model and with_precision(half, card_for(cfg), "bfloat16") is half
    assert half.get_layer("mask").dtype_policy.name == "float32"  # the logits stay float32


def test_stream_is_one_forward_path_whose_pieces_the_caller_pulls(gain_run):
    # blocks of one patch (about 3.5 s): a batch of 4 holds one patch of each of the 4 targets
    sep = load_separator(gain_run, block_seconds=2.0, context_seconds=0.25, batch_size=4, residual=True, **EXACT)
    x, rate = _song(20.0), 44100
    reads: list[tuple[int, int]] = []
    source = Source(lambda a, b: reads.append((a, b)) or x[:, a:b], x.shape[1], rate, x.shape[0], "song")
    pieces = sep.stream(source, scale=1.0)
    assert reads == []  # nothing is read before the caller asks for a piece
    first = next(pieces)
    # the first block, the one read ahead (its network running while this one is finished) and the first
    # piece's input for the residual: no more
    assert len(reads) == 3 and max(b for _, b in reads) < x.shape[1] // 2
    rest = list(pieces)
    out = np.concatenate([first, *rest], axis=-1)
    assert out.shape == (len(sep.stems), *x.shape) and len(rest) >= 3
    for i, stem in enumerate(sep.targets):
        np.testing.assert_allclose(out[i], GAINS[stem] * x, atol=2e-5)
    np.testing.assert_allclose(out.sum(0), x, atol=2e-5)  # the residual takes what no target did


def test_the_checking_pass_names_the_first_bad_span_and_reads_no_further():
    """The pass that checks every sample reads two spans at a time: an error names the earliest bad sample,
    and at most one span after it is read (a bad sample near the start of a long file stops the pass there)."""
    x = np.ones((2, 100 * 1000), np.float32)
    x[0, 2500] = np.nan  # in the third span
    x[1, 9200] = np.inf  # in the tenth: later in the file, so not the one named
    reads = []
    source = Source(lambda a, b: reads.append(a) or x[:, a:b], x.shape[1], 1000, 2, "long.wav")
    with pytest.raises(ValueError, match=r"long\.wav.*the first at sample 2500"):
        source.scan(1000, lambda span: float(span.max()))
    assert sorted(reads) == [0, 1000, 2000, 3000]  # the bad span and the one read beside it, no more
    clean = Source.from_array(np.arange(100_000, dtype=np.float32), 1000)
    assert clean.scan(25_000, lambda span: float(span[0, 0])) == [0, 25_000, 50_000, 75_000]  # in order
