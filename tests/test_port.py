"""cunet's Y-Net reproduces the original PyTorch Y-Net, given its weights (../shared/fixtures/original_ynet)."""

from pathlib import Path

import keras
import numpy as np
import pytest

from cunet import audio
from cunet.errors import InputError
from cunet.models.config import ModelConfig
from cunet.models.losses import ynet_loss
from cunet.models.masks import apply_complex_mask, network_input
from cunet.models.port import load_original_ynet, read_state_dict
from cunet.models.ynet import build_ynet

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "original_ynet"
VISUAL = {"u_net": "none", "y_net_g": "landmarks", "y_net_m": "video"}
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"parity fixtures not found at {FIXTURES}")


def _config(name):
    # The fixtures use the paper topology at reduced widths [8, 16, 32, 64, 64, 64, (128 unused)].
    return ModelConfig(model="ynet", depth="paper", visual=VISUAL[name], widths=(8, 16, 32, 64, 64, 64))


@pytest.mark.parametrize("name", list(VISUAL))
def test_reproduces_every_intermediate_and_output(name):
    io = dict(np.load(FIXTURES / f"{name}_io.npz"))
    model = build_ynet(_config(name))
    load_original_ynet(model, read_state_dict(FIXTURES / f"{name}_weights.npz"), name)
    voice, acc = (audio.stft(io[k], audio.YNET_STFT) for k in ("in_audio", "in_audio_acmt"))
    mixture = (voice + acc) / 2  # the original mixes its two sources as their mean
    inputs = [np.asarray(network_input(mixture))]  # every second bin, (re, im) last
    if name == "y_net_g":
        inputs.append(io["in_landmarks"][..., 0].transpose(0, 2, 3, 1))  # (B, C, T, V, M) -> (B, T, V, C)
    if name == "y_net_m":
        inputs.append(io["in_video"].astype(np.float32).transpose(0, 2, 3, 4, 1))  # (B, C, T, H, W) -> last
    probes = {"out_logits_mask": model.output}
    if name != "u_net":
        probes.update(
            mid_visual_features=model.get_layer("film_scale").input,
            mid_bottleneck_in=model.get_layer("encoder5_pool").output,
            mid_bottleneck_out=model.get_layer("film").output,
        )
    outputs = keras.Model(model.inputs, list(probes.values())).predict(inputs, verbose=0)
    got = dict(zip(probes, outputs if isinstance(outputs, list) else [outputs]))
    for key, value in got.items():
        want = io[key] if key == "mid_visual_features" else io[key].transpose(0, 2, 3, 1)  # NCHW -> NHWC
        np.testing.assert_allclose(value, want, atol=1e-4, rtol=0, err_msg=key)
    estimate = np.asarray(apply_complex_mask(got["out_logits_mask"], audio.real_imag(mixture), 2.0))
    wav = audio.istft(estimate[..., 0] + 1j * estimate[..., 1], audio.YNET_STFT, length=65535)
    np.testing.assert_allclose(wav, io["out_estimated_wav"], atol=1e-4, rtol=0)
    loss = float(ynet_loss(got["out_logits_mask"], audio.real_imag(voice[:, ::2]), inputs[0], 2.0))
    assert loss == pytest.approx(float(io["out_separation_loss"]), abs=1e-4)


def test_pth_checkpoint_loads_like_the_npz(tmp_path):
    torch = pytest.importorskip("torch", reason="reading .pth checkpoints needs torch (optional)")
    state = read_state_dict(FIXTURES / "y_net_g_weights.npz")
    torch.save({"state_dict": {k: torch.from_numpy(np.array(v)) for k, v in state.items()}}, tmp_path / "ck.pth")
    a, b = build_ynet(_config("y_net_g")), build_ynet(_config("y_net_g"))
    load_original_ynet(a, state)
    load_original_ynet(b, read_state_dict(tmp_path / "ck.pth"))
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())


def test_mismatched_config_or_checkpoint_is_a_clear_error():
    state = read_state_dict(FIXTURES / "y_net_g_weights.npz")
    with pytest.raises(InputError, match="do not fit layer"):
        load_original_ynet(build_ynet(ModelConfig(model="ynet", depth="paper", visual="landmarks")), state, "g.npz")
    with pytest.raises(InputError, match="have no place in this model"):
        load_original_ynet(build_ynet(_config("u_net")), state, "g.npz")
    with pytest.raises(InputError, match="missing"):
        load_original_ynet(build_ynet(_config("y_net_m")), state, "g.npz")
