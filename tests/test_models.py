import keras
import numpy as np
import pytest

from cunet.models import losses
from cunet.models.config import ModelConfig
from cunet.models.film import FiLM
from cunet.models.graph_net import build_graph_net
from cunet.models.unet import build_cunet, build_unet, n_film_params
from cunet.models.video_net import build_video_net
from cunet.models.ynet import build_ynet


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def condition(cfg: ModelConfig, onehot_rows) -> np.ndarray:
    z = np.eye(cfg.z_dim, dtype=np.float32)[onehot_rows]
    return z[:, None, :] if cfg.control == "dense" else z[:, :, None]


# Hand derivation of the U-Net: encoder convs 5x5 from 1 to 16..512 channels (25*in*out + out) plus
# batch-norm gamma and beta (2*out); decoder transposed convs 512->256, 512->128, 256->64, 128->32,
# 64->16, 32->1, likewise: 9,823,315.
UNET = 9_823_315
# Control networks: dense simple 4->16->64->256 (+BN on the last two), two heads 256->6: 21,532;
# dense complex 4->16->256->1024, heads 1024->1008: 2,336,560; cnn simple Conv1D(k=4) 1->16->32->64,
# heads 64->6: 11,388; cnn complex 1->32->64->256, heads 256->1008: 592,960.
CONTROL = {
    ("simple", "dense"): 21_532,
    ("complex", "dense"): 2_336_560,
    ("simple", "cnn"): 11_388,
    ("complex", "cnn"): 592_960,
}


def test_unet_shape_and_parameters():
    model = build_unet(ModelConfig(model="unet"))
    assert model.output.shape == (None, 512, 128, 1)
    assert trainable(model) == UNET


@pytest.mark.parametrize("film,control", list(CONTROL))
def test_cunet_parameters_and_film_sizes(film, control):
    cfg = ModelConfig(film=film, control=control)
    model = build_cunet(cfg)
    assert trainable(model) == UNET + CONTROL[(film, control)]
    assert n_film_params(cfg) == {"simple": 6, "complex": 1008}[film]
    assert model.get_layer("gammas").output.shape == (None, 1, n_film_params(cfg))
    films = [layer for layer in model.layers if isinstance(layer, FiLM)]
    assert [f.size for f in films] == ([1] * 6 if film == "simple" else [16, 32, 64, 128, 256, 512])


@pytest.mark.slow
@pytest.mark.parametrize("film,control", [("simple", "dense"), ("complex", "cnn")])
def test_conditions_steer_the_output_once_trained(film, control):
    """Taught that condition k asks for (k+1)/5 of the input, the model's outputs follow the condition. Each
    FiLM kind and each control network is trained once (the other two pairings build from the same parts,
    and test_cunet_parameters_and_film_sizes builds all four): each pairing costs 20 s of the suite."""
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(film=film, control=control, n_bins=64, n_frames=64, first_filters=8)
    model = build_cunet(cfg)
    rng = np.random.default_rng(0)
    x = rng.random((64, 64, 64, 1), dtype=np.float32)
    k = np.arange(64) % 4
    y = x * ((k + 1) / 5).astype(np.float32)[:, None, None, None]
    model.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5), loss="mae")
    model.fit([x, condition(cfg, k)], y, batch_size=16, epochs=25, verbose=0)
    probe = rng.random((4, 64, 64, 1), dtype=np.float32)
    gains = [float(np.median(model.predict([probe, condition(cfg, [c] * 4)], verbose=0) / probe)) for c in range(4)]
    assert np.all(np.diff(gains) > 0.05), gains


# Y-Net, paper depth: the audio-only U-Net has 8,099,394 parameters in PyTorch (measured on the original);
# FiLM adds two Linear(256, 256): 131,584, so 8,230,978 (the paper's "about 8.2 M"). The video net:
# 3D stem 3*7*7*3*64 + BN, two 3D blocks of 64, two (1x3x3) stages to 128 and 256 with 1x1 shortcuts:
# 3,096,512 ("3.1 M"). The graph net: 1,313,040 ST-GCN weights ("1.3 M") plus 8 learnt edge-importance
# masks of 3x68x68 (110,976): 1,424,016.
YNET_AUDIO = 8_099_394
FILM = 2 * (256 * 256 + 256)
VIDEO = 3_096_512
GRAPH = 1_313_040 + 8 * 3 * 68 * 68


def test_ynet_parameter_counts():
    cfg = ModelConfig(model="ynet", depth="paper", visual="none")
    assert trainable(build_ynet(cfg)) == YNET_AUDIO
    assert trainable(build_video_net(cfg)) == VIDEO
    assert trainable(build_graph_net(cfg)) == GRAPH
    assert trainable(build_ynet(ModelConfig(model="ynet", depth="paper", visual="video"))) == YNET_AUDIO + FILM + VIDEO
    assert (
        trainable(build_ynet(ModelConfig(model="ynet", depth="paper", visual="landmarks"))) == YNET_AUDIO + FILM + GRAPH
    )


@pytest.mark.parametrize("depth,bottleneck", [("seed", (16, 16, 256)), ("paper", (4, 16, 256))])
def test_ynet_shapes(depth, bottleneck):
    model = build_ynet(ModelConfig(model="ynet", depth=depth, visual="landmarks"))
    assert model.output.shape == (None, 256, 256, 2)
    n = 4 if depth == "seed" else 6
    assert tuple(model.get_layer(f"encoder{n - 1}_pool").output.shape[1:]) == bottleneck
    assert model.get_layer("film_scale").input.shape == (None, 16, 256)


def small_ynet(visual: str) -> tuple[ModelConfig, keras.Model]:
    cfg = ModelConfig(model="ynet", visual=visual, widths=(8, 16, 16, 32), video_frames=16, mouth_size=32)
    return cfg, build_ynet(cfg)


def ynet_inputs(cfg: ModelConfig, seed: int = 0, batch: int = 2):
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((batch, 256, 256, 2)).astype(np.float32)
    if cfg.visual == "video":
        return [spec, rng.standard_normal((batch, cfg.video_frames, 32, 32, 3)).astype(np.float32)]
    if cfg.visual == "landmarks":
        return [spec, rng.uniform(0, 96, (batch, cfg.video_frames, 68, 2)).astype(np.float32)]
    return spec


@pytest.mark.parametrize("visual", ["video", "landmarks"])
def test_ynet_output_depends_on_the_visual_input(visual):
    cfg, model = small_ynet(visual)
    spec, face = ynet_inputs(cfg)
    other = ynet_inputs(cfg, seed=1)[1]
    a = model.predict([spec, face], verbose=0)
    b = model.predict([spec, other], verbose=0)
    assert np.abs(a - b).mean() > 1e-3 * np.abs(a).mean()


def test_audio_only_ynet_has_no_visual_input():
    _, model = small_ynet("none")
    assert [i.name for i in model.inputs] == ["spectrogram"]


def _models():
    yield (
        "unet",
        build_unet(ModelConfig(model="unet", n_bins=128, n_frames=64)),
        np.random.default_rng(0).random((2, 128, 64, 1), dtype=np.float32),
    )
    cfg = ModelConfig(film="complex", control="cnn", n_bins=128, n_frames=64)
    yield (
        "cunet",
        build_cunet(cfg),
        [np.random.default_rng(0).random((2, 128, 64, 1), dtype=np.float32), condition(cfg, [3, 1])],
    )
    for visual in ("video", "landmarks", "none"):
        cfg, model = small_ynet(visual)
        yield f"ynet-{visual}", model, ynet_inputs(cfg)


@pytest.mark.parametrize("name", ["unet", "cunet", "ynet-video", "ynet-landmarks", "ynet-none"])
def test_keras_round_trip_in_safe_mode(tmp_path, name):
    _, model, x = next(m for m in _models() if m[0] == name)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model._flatten_layers())
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_losses_against_numpy():
    rng = np.random.default_rng(0)
    target, estimate = rng.random((2, 8, 4, 1)), rng.random((2, 8, 4, 1))
    assert float(losses.masked_magnitude_l1(target, estimate)) == pytest.approx(np.abs(target - estimate).mean())
    n = 2.0
    voice = rng.standard_normal((2, 6, 5)) + 1j * rng.standard_normal((2, 6, 5))
    acc = rng.standard_normal((2, 6, 5)) + 1j * rng.standard_normal((2, 6, 5))
    mix = (voice + acc) / n
    logits = rng.standard_normal((2, 6, 5, 2))
    ri = lambda z: np.stack([z.real, z.imag], -1)  # noqa: E731
    ideal = voice / (voice + acc)
    weight = np.clip(np.log1p(np.abs(mix)), 1e-3, 10)[..., None]
    want = np.mean(weight * (10 * np.tanh(logits) - 10 * np.tanh(ri(ideal))) ** 2)
    got = float(
        losses.ynet_loss(logits.astype(np.float32), ri(voice).astype(np.float32), ri(mix).astype(np.float32), n)
    )
    assert got == pytest.approx(want, rel=1e-4)
    np.testing.assert_allclose(losses.complex_ratio_mask(ri(voice), ri(voice + acc)), ri(ideal), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet", "cunet", "ynet-video", "ynet-landmarks", "ynet-none"])
def test_a_few_training_steps_lower_the_loss(name):
    keras.utils.set_random_seed(0)
    _, model, x = next(m for m in _models() if m[0] == name)
    rng = np.random.default_rng(1)
    if name.startswith("ynet"):
        y = np.tanh(rng.standard_normal((2, 256, 256, 2))).astype(np.float32)
    else:  # keep the lower half of the bins: a mask the untrained network (about 0.5 everywhere) lacks
        mix = x[0] if isinstance(x, list) else x
        y = mix * (np.arange(mix.shape[1]) < mix.shape[1] // 2)[None, :, None, None]
    if name == "ynet-video":
        # A 3D convolution's weight gradient takes seconds a step on 2 CPU cores (the whole test took 200 s):
        # one step shows that the video net learns, then it is frozen for the loss-lowering run.
        video = model.get_layer("video_net")
        before = [w.copy() for w in video.get_weights()]
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y, epochs=1, batch_size=2, verbose=0)
        assert all(np.any(a != b) for a, b in zip(before, video.get_weights()) if a.ndim > 1)
        video.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae" if not name.startswith("ynet") else "mse")
    history = model.fit(x, y, epochs=20, batch_size=2, verbose=0).history["loss"]
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3]), history


def test_film_offset_starts_at_the_identity_and_old_files_keep_theirs():
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype(np.float32)
    zeros = np.zeros((2, 1, 3), np.float32)
    np.testing.assert_allclose(FiLM(0, 3, gamma_offset=1.0)(x, zeros, zeros), x, rtol=0, atol=0)
    np.testing.assert_allclose(FiLM(0, 3)(x, zeros, zeros), 0 * x)  # the original: gamma alone scales
    gammas = np.full((2, 1, 3), 0.5, np.float32)
    np.testing.assert_allclose(FiLM(0, 3, gamma_offset=1.0)(x, gammas, zeros), 1.5 * x, rtol=1e-6)
    config = FiLM(0, 3, gamma_offset=1.0).get_config()
    assert FiLM.from_config(config).gamma_offset == 1.0
    del config["gamma_offset"]  # a layer saved before the field existed
    assert FiLM.from_config(config).gamma_offset == 0.0


def test_cunet_film_offset_and_control_dropout_from_the_config():
    """cunet's defaults start FiLM at the identity with no control dropout; the original's values rebuild it."""
    model = build_cunet(ModelConfig(film="complex", control="cnn", first_filters=4))
    assert {f.gamma_offset for f in model.layers if isinstance(f, FiLM)} == {1.0}
    assert not [layer for layer in model.layers if layer.name.startswith("control_dropout")]
    original = build_cunet(ModelConfig(first_filters=4, film_gamma_offset=0.0, control_dropout=0.5))
    assert {f.gamma_offset for f in original.layers if isinstance(f, FiLM)} == {0.0}
    assert [layer.rate for layer in original.layers if layer.name.startswith("control_dropout")] == [0.5, 0.5]
    assert trainable(original) == trainable(build_cunet(ModelConfig(first_filters=4)))
    with pytest.raises(ValueError, match="control_dropout"):
        ModelConfig(control_dropout=1.0)


def test_graph_net_widths_from_the_config():
    widths = (16, 16, 32, 32, 64, 64, 128, 128)
    narrow = build_graph_net(ModelConfig(model="ynet", visual="landmarks", graph_widths=widths))
    assert narrow.output.shape == (None, 16, 128)
    assert trainable(narrow) < GRAPH / 3  # about a quarter of the weights
    with pytest.raises(ValueError, match="graph_widths"):
        ModelConfig(graph_widths=(16, 32))
