"""Export: the SavedModel and the TFLite file compute what the Keras model computes."""

import json

import keras
import numpy as np
import pytest

from cunet import config as config_io
from cunet.evaluation.export import main
from cunet.models import ModelConfig, build_model


@pytest.mark.slow
@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(model="cunet", film="complex", control="cnn", first_filters=8),
        ModelConfig(model="ynet", visual="landmarks", widths=(8, 16, 32, 64)),
    ],
    ids=["cunet", "ynet-landmarks"],
)
def test_saved_model_and_tflite_match_keras(tmp_path, cfg):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    config_io.save(cfg, run / "model_config.json")
    assert main([str(run)]) == 0
    out = run / "export"
    signature = json.loads((out / "signature.json").read_text())
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(0, 1, (2, *i["shape"])).astype(np.float32) for i in signature["inputs"]]
    want = np.asarray(model.predict_on_batch(inputs if len(inputs) > 1 else inputs[0]))

    loaded = tf.saved_model.load(str(out / "saved_model"))  # kept: its variables live as long as it does
    served = loaded.serve(*inputs)
    np.testing.assert_allclose(np.asarray(served), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

    interpreter = tf.lite.Interpreter(model_path=str(out / "model.tflite"))
    runner = interpreter.get_signature_runner("serving_default")  # inputs by the names signature.json gives
    got = np.concatenate(
        [runner(**{i["name"]: x[k : k + 1] for i, x in zip(signature["inputs"], inputs)})["output_0"] for k in range(2)]
    )  # batch 1
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_export_refuses_what_is_not_a_model(tmp_path, capsys):
    (tmp_path / "model.keras").write_text("not a model")
    assert main([str(tmp_path)]) == 2
    assert "model_config.json" in capsys.readouterr().err
    assert not (tmp_path / "export").exists()
