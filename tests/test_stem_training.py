"""Training on a store of any set of sources: conditions over the store's sources, sampling where sources are
absent, a dedicated U-Net for any source, a C-U-Net whose control input has the store's width."""

import json
from collections import Counter

import numpy as np
import pytest
from conftest import SIX_TRAIN
from stem_layouts import SIX

from cunet.models.config import ModelConfig
from cunet.store import Store
from cunet.train.config import TrainConfig
from cunet.train.example_sources import MusicPatches


def _cfg(model="cunet", **kw):
    return TrainConfig(model=ModelConfig(model=model, z_dim=6, n_frames=64, first_filters=4), **kw)


def test_every_source_is_drawn_equally_often_and_absent_ones_teach_silence_at_their_rate(six_store):
    store = Store(six_store)
    src = MusicPatches(store, "train", _cfg(silent_target_prob=0.2))
    names = list(store.music.conditions.names)
    assert names == [*SIX, "silence"]
    n = 7000
    drawn = [src._draw(np.random.default_rng([0, i])) for i in range(n)]
    per_condition = Counter(names[int(r[2])] for r in drawn)
    # uniform over the seven conditions (1000 each): within 4 binomial standard deviations
    assert all(abs(c - n / 7) < 4 * np.sqrt(n / 7 * 6 / 7) for c in per_condition.values()), per_condition
    present = {t: set(store.tracks[t].sources_present) for t in range(len(store.tracks))}
    guitar = [r for r in drawn if names[int(r[2])] == "guitar"]
    silent = np.mean([("guitar" not in present[int(r[0])]) for r in guitar])
    assert abs(silent - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(guitar)), silent
    vocals = [r for r in drawn if names[int(r[2])] == "vocals"]
    assert all("vocals" in present[int(r[0])] for r in vocals)  # held by every track: never silent
    # an example drawn silent has a silent target and a sounding mixture
    for i in range(200):
        rng = np.random.default_rng([src.cfg.seed, i])
        track, _, cond = (int(v) for v in src._draw(rng))
        if names[cond] == "guitar" and "guitar" not in present[track]:
            x, z, y = src.example(i)
            assert z.argmax() == SIX.index("guitar") and not np.any(y) and np.abs(x).max() > 0
            break
    else:
        pytest.fail("no silent guitar example among 200")


def test_no_silent_draws_when_the_rate_is_zero(six_store):
    store = Store(six_store)
    src = MusicPatches(store, "train", _cfg(silent_target_prob=0.0))
    names = list(store.music.conditions.names)
    for i in range(500):
        track, _, cond = (int(v) for v in src._draw(np.random.default_rng([0, i])))
        if names[cond] in SIX:
            assert names[cond] in store.tracks[track].sources_present


def test_a_store_whose_tracks_hold_every_source_draws_as_before(tiny_stores):
    store = Store(tiny_stores / "musdb")
    src = MusicPatches(store, "train", TrainConfig(model=ModelConfig(model="cunet")))
    assert src.by_condition is None
    for i in range(20):  # one uniform row of the index, as earlier versions drew
        rng = np.random.default_rng([0, i])
        np.testing.assert_array_equal(src._draw(np.random.default_rng([0, i])), src.rows[rng.integers(len(src.rows))])


def test_dedicated_unet_rows_are_its_sources_and_a_bad_name_lists_the_stores(six_store):
    store = Store(six_store)
    src = MusicPatches(store, "train", _cfg("unet", target="guitar"))
    assert set(src.rows[:, 2]) == {SIX.index("guitar")}
    from cunet.errors import InputError

    with pytest.raises(InputError) as err:
        MusicPatches(store, "train", _cfg("unet", target="banjo"))
    assert str(err.value) == (
        f"{six_store}: no source 'banjo' in this store; its sources are vocals, drums, bass, guitar, piano, other"
    )
    assert json.loads((six_store / "manifest.json").read_text())["sources"] == list(SIX)


@pytest.mark.xdist_group("six_runs")
def test_cunet_of_six_sources_has_a_control_of_six_and_a_card_of_the_stores_sources(six_runs, six_store):
    import keras

    from cunet.models.run import load_run

    folder = six_runs["cunet"]
    card = json.loads((folder / "model_card.json").read_text())
    assert card["targets"] == list(SIX) and card["conditions"] == list(SIX) and card["condition_shape"] == [6, 1]
    assert json.loads((folder / "config.json").read_text())["values"]["model"]["z_dim"] == 6
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert tuple(model.inputs[1].shape[1:]) == (6, 1)
    store = Store(six_store)
    track = [t.name for t in store.tracks].index("s0")  # a training song holding all six sources
    peak = store.tracks[track].stem_max_magnitude["mixture"]
    patch = np.abs(np.asarray(store.array(track, "mixture"))[:512, :64]) / peak
    outs = np.stack(
        [
            np.asarray(
                model.predict(
                    [patch[None, ..., None].astype(np.float32), np.eye(6, dtype=np.float32)[[k]][..., None]], verbose=0
                )
            )[0, ..., 0]
            for k in range(6)
        ]
    )
    targets = np.stack([np.abs(np.asarray(store.array(track, s))[:512, :64]) / peak for s in SIX])
    error = np.abs(outs[:, None] - targets[None]).mean((2, 3))  # (condition, source)
    # each condition's output is nearest its own source's target (measured: all six after 250 steps)
    np.testing.assert_array_equal(error.argmin(1), np.arange(6), err_msg=str(error))
    assert load_run(folder).card.targets == SIX


@pytest.mark.xdist_group("six_runs")
def test_unet_target_guitar_trains_on_guitar(six_runs):
    folder = six_runs["unet"]
    card = json.loads((folder / "model_card.json").read_text())
    assert card["model"] == "unet" and card["targets"] == ["guitar"]
    assert json.loads((folder / "config.json").read_text())["values"]["target"] == "guitar"


@pytest.mark.parametrize(
    "argv, problem",
    [
        (
            ["--model", "unet", "--target", "banjo"],
            "no source 'banjo' in this store; its sources are vocals, drums, bass, guitar, piano, other",
        ),
        (
            ["--model", "cunet", "--set", "model.z_dim=4"],
            "holds 6 sources (vocals, drums, bass, guitar, piano, other), "
            "but the C-U-Net's condition has model.z_dim=4",
        ),
    ],
)
def test_a_bad_source_or_width_exits_2_naming_the_store(six_store, tmp_path, capsys, argv, problem):
    from cunet.train.__main__ import main as train

    run = tmp_path / "run"
    assert train([*argv, "--store", str(six_store), "--run-dir", str(run), *SIX_TRAIN]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {six_store}: ") and problem in err, err
    assert not run.exists()


@pytest.mark.xdist_group("six_runs")
def test_asked_for_a_guitar_in_a_song_without_one_the_cunet_returns_near_nothing(six_runs, six_store):
    import keras

    store = Store(six_store)
    model = keras.saving.load_model(six_runs["cunet"] / "model.keras", safe_mode=True)
    level = {}
    for name in ("s6", "s7"):  # the test songs: s6 holds a guitar, s7 none
        track = [t.name for t in store.tracks].index(name)
        mix = (
            np.abs(np.asarray(store.array(track, "mixture"))[:512]) / store.tracks[track].stem_max_magnitude["mixture"]
        )
        x = np.stack([mix[:, s : s + 64] for s in range(0, mix.shape[1] - 63, 64)])[..., None].astype(np.float32)
        z = np.tile(np.eye(6, dtype=np.float32)[[SIX.index("guitar")]][..., None], (len(x), 1, 1))
        y = np.asarray(model.predict([x, z], verbose=0))
        level[name] = 10 * np.log10((y**2).sum() / (x**2).sum())
    # measured: -14.9 dB with the guitar, -28.6 dB without (silent_target_prob 0.1; -27.1 dB with 0)
    assert level["s7"] < -20 and level["s7"] < level["s6"] - 8, level
