"""A model saved on the TensorFlow backend loads and computes the same on the torch backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

from cunet.models import ModelConfig, build_model

CHECK = """
import sys, numpy as np, keras
assert keras.backend.backend() == "torch"
import cunet.models

cunet.models.register_layers()  # safe-mode loading needs cunet's layers
data = np.load(sys.argv[2])
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
inputs = [data[f"x{i}"] for i in range(len(model.inputs))]
got = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
np.testing.assert_allclose(got, data["y"], atol=1e-4, rtol=1e-4)
model.compile(optimizer="adam", loss="mae")
model.train_on_batch(inputs if len(inputs) > 1 else inputs[0], data["y"])
print("ok")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(film="complex", control="cnn", n_bins=128, n_frames=64),
        ModelConfig(model="ynet", visual="landmarks", widths=(8, 16, 16, 32), video_frames=16),
        ModelConfig(model="ynet", visual="video", widths=(8, 16, 16, 32), video_frames=8, mouth_size=32),
    ],
    ids=["cunet", "ynet-landmarks", "ynet-video"],
)
def test_same_outputs_on_the_torch_backend(tmp_path, cfg):
    pytest.importorskip("torch", reason="the torch backend needs torch (installed by the test extra)")
    model = build_model(cfg)
    rng = np.random.default_rng(0)
    xs = [rng.random((2, *i.shape[1:]), dtype=np.float32) for i in model.inputs]
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "data.npz", y=y, **{f"x{i}": x for i, x in enumerate(xs)})
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path / "m.keras"), str(tmp_path / "data.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
