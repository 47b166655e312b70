import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from cunet import config as config_io
from cunet.datasets.musdb import SOURCES
from cunet.errors import InputError
from cunet.models import build_model
from cunet.models.config import ModelConfig
from cunet.store import Store
from cunet.train import data_loader, example_sources
from cunet.train.__main__ import main as train_main
from cunet.train.__main__ import parse_args, resolve
from cunet.train.config import TrainConfig


def _cfg(*argv) -> TrainConfig:
    return resolve(parse_args(list(argv)))


def test_presets_flags_and_set_resolve_in_order(tmp_path):
    cfg = _cfg(
        "--model",
        "cunet",
        "--preset",
        "paper",
        "--film",
        "complex",
        "--control",
        "cnn",
        "--epochs",
        "7",
        "--set",
        "learning_rate=3e-4",
        "--set",
        "model.z_dim=4",
    )
    assert (cfg.batch_size, cfg.steps_per_epoch, cfg.beta_1) == (64, 2048, 0.5)  # the paper preset
    assert (cfg.model.film, cfg.model.control, cfg.epochs, cfg.learning_rate) == ("complex", "cnn", 7, 3e-4)
    ynet = _cfg("--model", "ynet", "--preset", "paper", "--visual", "landmarks")
    assert (ynet.optimizer, ynet.learning_rate, ynet.momentum, ynet.batch_size, ynet.model.depth) == (
        "sgd",
        0.01,
        0.8,
        10,
        "paper",
    )
    config_io.save(cfg, tmp_path / "c.json")
    assert config_io.load(TrainConfig, tmp_path / "c.json") == cfg


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "unet", "--film", "complex"], "--film applies to --model cunet"),
        (["--model", "cunet", "--visual", "video"], "--visual applies to --model ynet"),
        (["--model", "cunet", "--set", "learning_rat=1"], "unknown config key 'learning_rat'"),
        (["--model", "ynet", "--set", "model.visual=face"], "'model.visual' must be one of video, landmarks, none"),
    ],
)
def test_nonsense_is_refused(argv, message, capsys):
    assert train_main(argv) == 2
    assert message in capsys.readouterr().err


def test_music_examples_follow_the_store(tiny_stores):
    store = Store(tiny_stores / "musdb", "music")
    cfg = TrainConfig(gain_prob=0.0, remix_prob=0.0)
    source = example_sources.examples(cfg, store, "valid")
    mix, z, target = source.example(0)
    track, start, cond = store.index("valid")[0]
    scale = store.tracks[track].stem_max_magnitude["mixture"]
    want = np.abs(store.array(track, SOURCES[cond])[:512, start : start + 128]) / scale
    np.testing.assert_allclose(target[..., 0], want, rtol=1e-6)
    np.testing.assert_allclose(
        mix[..., 0], np.abs(store.array(track, "mixture")[:512, start : start + 128]) / scale, rtol=1e-6
    )
    np.testing.assert_array_equal(z, np.eye(4)[cond])
    train = example_sources.examples(TrainConfig(), store, "train")
    again = example_sources.examples(TrainConfig(), store, "train")
    for i in (0, 5, 123):  # a stream is a function of (seed, i): what makes resuming exact
        for a, b in zip(train.example(i), again.example(i)):
            np.testing.assert_array_equal(a, b)
    valid_tracks = set(store.track_ids("valid"))
    seen = {int(train.rows[np.random.default_rng([0, i]).integers(len(train.rows))][0]) for i in range(300)}
    assert seen and not seen & valid_tracks


def test_separation_computes_from_the_input_the_scale_training_used(tiny_root, tiny_stores):
    """Training divides a track's patches by its mixture's largest STFT magnitude; a separator, which has
    only the mixture, must find the same number from the 44.1 kHz stereo file."""
    from cunet import audio
    from cunet.models.card import card_for
    from cunet.separation.magnitude import MaskSeparator
    from cunet.separation.streaming import Source

    store = Store(tiny_stores / "musdb", "music")
    cfg = ModelConfig(model="cunet", first_filters=4)
    separator = MaskSeparator(build_model(cfg), card_for(cfg))
    for track in store.tracks:
        subset = "test" if track.split == "test" else "train"  # validation tracks are train folders
        x, rate = audio.read(tiny_root / "musdb" / subset / track.name / "mixture.wav")
        found = separator.input_scale(Source.from_array(x, rate))
        assert found == pytest.approx(example_sources.mixture_peak(track), rel=2e-3), track.name
        assert found < track.max_magnitude * (1 + 2e-3)  # the old scale, over all stems, was never smaller


def test_a_dedicated_unet_never_gets_a_scaled_target(tiny_stores):
    store = Store(tiny_stores / "musdb", "music")
    unet = ModelConfig(model="unet")
    plain = example_sources.examples(TrainConfig(model=unet, gain_prob=0.0, remix_prob=0.0), store, "train")
    asked = example_sources.examples(TrainConfig(model=unet, gain_prob=1.0, remix_prob=0.0), store, "train")
    remixed = example_sources.examples(TrainConfig(model=unet, gain_prob=1.0, remix_prob=1.0), store, "train")
    changed = 0
    for i in range(40):
        for a, b in zip(plain.example(i), asked.example(i)):
            np.testing.assert_array_equal(a, b)  # gain_prob=1 changes nothing for a U-Net
        m, z, t = remixed.example(i)
        assert z.max() == 1.0  # the condition stays the one-hot target: never a gain
        changed += not np.array_equal(m, plain.example(i)[0])
    assert changed > 0  # the remix augmentation still applies


def test_gain_augmentation_scales_the_target_not_the_mixture(tiny_stores):
    store = Store(tiny_stores / "musdb", "music")
    plain = example_sources.examples(TrainConfig(gain_prob=0.0, remix_prob=0.0), store, "train")
    scaled = example_sources.examples(TrainConfig(gain_prob=1.0, remix_prob=0.0), store, "train")
    for i in range(20):
        m0, z0, t0 = plain.example(i)
        m1, z1, t1 = scaled.example(i)
        np.testing.assert_array_equal(m0, m1)
        if t0.max() > 0:
            p = z1.max()
            assert 0 <= p < 1 and np.allclose(t1, p * t0, rtol=1e-5, atol=1e-7)


def test_singing_examples_mix_voice_accompaniment_and_second_singer(tiny_stores):
    store = Store(tiny_stores / "acappella", "singing")
    cfg = TrainConfig(model=keras_free_ynet_config("landmarks"), second_singer_prob=1.0)
    source = example_sources.examples(cfg, store, "train")
    mixture, marks, packed = source.example(3)
    assert mixture.shape == (256, 256, 2) and marks.shape == (100, 68, 2) and packed.shape == (256, 256, 4)
    np.testing.assert_array_equal(packed[..., 2:], mixture)
    voice = packed[..., :2]
    assert 0.05 < np.abs(voice).sum() / np.abs(mixture).sum() < 0.95  # the voice is a part of the mix


def test_singing_mixture_levels_change_the_input_not_the_mask(tiny_stores):
    """``mixture_level`` "peak" divides each clip (voice and mixture together) by the mixture's peak, which
    a separator can compute from any input; the complex ratio mask the loss compares against is the same
    as with the original's division by the slots."""
    from cunet.models.losses import complex_ratio_mask

    store = Store(tiny_stores / "acappella", "singing")
    model = keras_free_ynet_config("none")
    peak_cfg = TrainConfig(model=model, second_singer_prob=1.0)
    slots_cfg = TrainConfig(model=model, second_singer_prob=1.0, mixture_level="slots")
    assert (peak_cfg.loss_sources, slots_cfg.loss_sources) == (1.0, 3.0)
    peak, slots = (example_sources.examples(c, store, "train") for c in (peak_cfg, slots_cfg))
    for i in (0, 7):
        (m1, _, p1), (m3, _, p3) = peak.example(i), slots.example(i)
        ratio = np.abs(m1).max() / np.abs(m3).max()
        assert not np.isclose(ratio, 1.0, atol=0.05)  # the input level differs ...
        for packed, cfg in ((p1, peak_cfg), (p3, slots_cfg)):
            mask = np.asarray(complex_ratio_mask(packed[..., :2], packed[..., 2:] * cfg.loss_sources))
            loud = np.abs(packed[..., 2:]).sum(-1) > 1e-3 * np.abs(packed[..., 2:]).max()
            if cfg is peak_cfg:
                reference = mask
            else:  # ... the mask to learn does not
                np.testing.assert_allclose(mask[loud], reference[loud], rtol=1e-3, atol=1e-3)


def test_video_pipeline_crops_mouths_as_the_numpy_reference(tiny_stores):
    from cunet.singing_input import mouth_crops

    store = Store(tiny_stores / "acappella", "singing")
    cfg = TrainConfig(model=keras_free_ynet_config("video"))
    source = example_sources.examples(cfg, store, "valid")
    (mixture, mouths), packed = next(iter(data_loader.dataset(cfg, source, 2, count=2)))
    assert mouths.shape == (2, 100, 96, 96, 3) and mouths.dtype == np.float32
    for j in range(2):
        track, frame = (int(v) for v in store.index("valid")[j])
        want = mouth_crops(np.asarray(store.array(track, "frames")[frame : frame + 100]))
        np.testing.assert_allclose(mouths[j].numpy(), want, atol=1e-5)
        np.testing.assert_allclose(mixture[j].numpy(), source.example(j)[0], atol=1e-6)


def keras_free_ynet_config(visual):
    from cunet.models.config import ModelConfig

    return ModelConfig(model="ynet", visual=visual, widths=(8, 16, 32, 64))


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
@pytest.mark.parametrize("name", ["unet", "cunet", "ynet"])
def test_training_lowers_the_validation_loss(trained_runs, name):
    args, run = trained_runs[name]
    cfg = _cfg(*args)
    from cunet.train.main import compiled_model

    store = Store(cfg.store_path, cfg.store_kind)
    valid = example_sources.examples(cfg, store, "valid")
    keras.utils.set_random_seed(cfg.seed)
    before = compiled_model(cfg).evaluate(data_loader.dataset(cfg, valid, 4, count=len(valid)), verbose=0)
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    after = model.evaluate(data_loader.dataset(cfg, valid, 4, count=len(valid)), verbose=0)
    assert after < 0.9 * before, (before, after)
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].split(",")[:2] == ["epoch", "learning_rate"] and len(history) == 5
    assert any((run / "tensorboard" / "validation").iterdir())
    assert config_io.load(TrainConfig, run / "config.json") == cfg


@pytest.mark.slow
def test_sigkill_then_same_command_resumes_exactly(tiny_stores, tmp_path):
    base = [
        sys.executable,
        "-m",
        "cunet.train",
        "--model",
        "cunet",
        "--store",
        str(tiny_stores / "musdb"),
        "--epochs",
        "3",
        "--steps",
        "3",
        "--set",
        "model.first_filters=8",
        "--quiet",
    ]
    whole = subprocess.run(base + ["--run-dir", str(tmp_path / "whole")], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr[-2000:]
    run = tmp_path / "killed"
    proc = subprocess.Popen(base + ["--run-dir", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    state = run / "checkpoints" / "state.json"
    while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["epoch"] >= 1):
        time.sleep(0.02)  # the state is replaced whole (atomic rename): a read sees one epoch's or another's
    os.kill(proc.pid, signal.SIGKILL)  # in the second epoch (an epoch takes ~0.5 s here, polls 0.02 s)
    proc.wait()
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epoch"] < 3
    again = subprocess.run(base + ["--run-dir", str(run)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    a = keras.saving.load_model(tmp_path / "whole" / "checkpoints" / "last.keras", safe_mode=True)
    b = keras.saving.load_model(run / "checkpoints" / "last.keras", safe_mode=True)
    for wa, wb in zip(a.weights + a.optimizer.variables, b.weights + b.optimizer.variables):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())


def test_resume_state_is_the_one_inside_the_checkpoint(tmp_path):
    """A kill after the new last.keras is in place but before state.json follows must not pair them wrongly."""
    import zipfile

    from cunet.errors import InputError
    from cunet.train.checkpoints import STATE_MEMBER, checkpoint_state

    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    assert checkpoint_state(ckpt) is None  # killed in the first epoch: start afresh
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(ckpt / "last.keras")
    (ckpt / "state.json").write_text(json.dumps({"epoch": 1, "rng": {}}))
    assert checkpoint_state(ckpt)["epoch"] == 1  # a checkpoint from before the state moved inside
    with zipfile.ZipFile(ckpt / "last.keras", "a") as archive:
        archive.writestr(STATE_MEMBER, json.dumps({"epoch": 2, "rng": {}}))
    assert checkpoint_state(ckpt)["epoch"] == 2  # state.json still says 1: the checkpoint wins
    assert not checkpoint_state(ckpt).get("finished")
    (ckpt / "state.json").write_text(json.dumps({"epoch": 2, "rng": {}, "finished": True}))
    assert checkpoint_state(ckpt)["finished"]  # early stopping's verdict, written to state.json at the end
    keras.saving.load_model(ckpt / "last.keras", safe_mode=True)  # the extra member does not bother Keras
    bare = tmp_path / "bare"  # a checkpoint with no state inside and no state.json: last.keras is named
    bare.mkdir()
    model.save(bare / "last.keras")
    with pytest.raises(InputError) as refused:
        checkpoint_state(bare)
    assert refused.value.path == str(bare / "last.keras") and not (bare / "state.json").exists()


def test_bad_stores_and_run_folders(tiny_stores, tmp_path, capsys):
    assert train_main(["--model", "cunet", "--store", str(tmp_path / "none"), "--quiet"]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err
    assert train_main(["--model", "cunet", "--store", str(tiny_stores / "acappella"), "--quiet"]) == 2
    assert "needs a music store" in capsys.readouterr().err
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(tiny_stores / "musdb", broken)
    np.save(broken / "indexes" / "train.npy", np.zeros((3, 2), np.float32))
    assert train_main(["--model", "cunet", "--store", str(broken), "--quiet"]) == 2
    assert "corrupt index" in capsys.readouterr().err
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["version"] = 99
    (broken / "manifest.json").write_text(json.dumps(manifest))
    assert train_main(["--model", "cunet", "--store", str(broken), "--quiet"]) == 2
    assert "re-run python -m cunet.preprocess" in capsys.readouterr().err
    run = tmp_path / "run"
    config_io.save(_cfg("--model", "cunet", "--run-dir", str(run), "--epochs", "9"), run / "config.json")
    before = (run / "config.json").read_bytes()
    assert (
        train_main(["--model", "cunet", "--store", str(tiny_stores / "musdb"), "--run-dir", str(run), "--quiet"]) == 2
    )
    assert "another config" in capsys.readouterr().err and (run / "config.json").read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_mixed_precision_trains_and_keeps_float32_outputs(tiny_stores, tmp_path, precision):
    run = tmp_path / "run"
    assert (
        train_main(
            [
                "--model",
                "cunet",
                "--store",
                str(tiny_stores / "musdb"),
                "--run-dir",
                str(run),
                "--epochs",
                "1",
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--mixed-precision",
                precision,
                "--set",
                "model.first_filters=8",
                "--quiet",
            ]
        )
        == 0
    )
    assert keras.config.dtype_policy().name == "float32"  # the run's policy does not leak out of it
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    assert model.get_layer("enc2_conv").dtype_policy.name == f"mixed_{precision}"
    assert model.get_layer("enc2_conv").kernel.dtype == "float32"  # variables stay float32
    condition = np.zeros((1, *model.inputs[1].shape[1:]), np.float32)
    condition.flat[0] = 1.0  # the first source, whichever shape the control network takes
    out = model.predict([np.ones((1, 512, 128, 1), np.float32), condition], verbose=0)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    rows = (run / "history.csv").read_text().splitlines()
    assert np.isfinite(float(rows[1].split(",")[-1]))  # val_loss
    if precision == "float16":  # float16 gradients need loss scaling, which compile adds
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_a_config_saved_before_mixture_level_resumes_with_the_slots_rule(tmp_path):
    """Run folders from before the peak rule trained over the mixture slots: reading their config.json as
    the new default would switch a resumed run's inputs under its checkpoint."""
    from cunet.fileio import load_json, save_json

    cfg = TrainConfig(model=keras_free_ynet_config("none"))
    config_io.save(cfg, tmp_path / "config.json")
    assert config_io.load(TrainConfig, tmp_path / "config.json").mixture_level == "peak"
    old = load_json(tmp_path / "config.json")
    del old["values"]["mixture_level"]
    save_json(tmp_path / "config.json", old)
    loaded = config_io.load(TrainConfig, tmp_path / "config.json")
    assert loaded.mixture_level == "slots" and loaded.loss_sources == 3.0


def test_landmarks_move_per_clip_and_per_frame_in_training_only(tiny_stores):
    """``landmark_offset_px`` moves every point by its own amount for a whole clip (another tracker's habit),
    ``landmark_jitter_px`` adds fresh noise every frame; validation and runs without them see the store's."""
    store = Store(tiny_stores / "acappella", "singing")
    plain = TrainConfig(model=keras_free_ynet_config("landmarks"))
    moved = TrainConfig(model=plain.model, landmark_offset_px=4.0, landmark_jitter_px=1.0)
    offsets, jitters = [], []
    for i in range(6):
        mix, marks, target = example_sources.examples(plain, store, "train").example(i)
        mix2, marks2, target2 = example_sources.examples(moved, store, "train").example(i)
        np.testing.assert_array_equal(mix, mix2)  # the audio draws are the same: the landmarks are drawn last
        np.testing.assert_array_equal(target, target2)
        diff = marks2 - marks
        offsets.append(diff.mean(0))  # (68, 2): the clip's offset of each point
        jitters.append((diff - diff.mean(0)).std())
    assert 3.2 < np.std(offsets) < 4.8 and 0.8 < np.mean(jitters) < 1.2
    # the offsets differ between points and clips: not one shift of the whole face
    assert np.std(offsets[0]) > 3 and np.abs(np.corrcoef(np.ravel(offsets[0]), np.ravel(offsets[1]))[0, 1]) < 0.3
    valid = [example_sources.examples(c, store, "valid").example(0)[1] for c in (plain, moved)]
    np.testing.assert_array_equal(valid[0], valid[1])
    with pytest.raises(ValueError, match="landmark_jitter_px must be >= 0"):
        TrainConfig(landmark_jitter_px=-1.0)


def test_a_fine_tuning_run_starts_from_the_weights_of_the_run_it_names(tmp_path):
    from cunet.models.card import card_for, save_card
    from cunet.train.main import compiled_model

    model_cfg = ModelConfig(model="cunet", first_filters=4)
    keras.utils.set_random_seed(1)
    trained = build_model(model_cfg)
    trained.save(tmp_path / "model.keras")
    config_io.save(model_cfg, tmp_path / "model_config.json")
    save_card(card_for(model_cfg), tmp_path)
    keras.utils.set_random_seed(2)
    fresh = compiled_model(TrainConfig(model=model_cfg))
    tuned = compiled_model(TrainConfig(model=model_cfg, init_from=str(tmp_path)))
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), trained.get_weights()))
    for a, b in zip(tuned.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = TrainConfig(model=ModelConfig(model="cunet", first_filters=8), init_from=str(tmp_path))
    with pytest.raises(InputError, match=r"model_config.json: describes another model .*first_filters"):
        compiled_model(other)
