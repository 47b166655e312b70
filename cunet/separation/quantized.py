"""``--precision int8``: a magnitude model's network with int8 weights, run by LiteRT (TFLite).

Post-training dynamic-range quantisation: each convolution's weights are stored as int8 with a scale per output
channel, and its input is quantised to int8 as it arrives, so the products run in XNNPACK's int8 kernels (VNNI
where the CPU has it); what is not a convolution stays float32. The converter is TensorFlow's, so this path
needs the TensorFlow backend; LiteRT runs the result (TensorFlow's own interpreter where LiteRT is not
installed). The conversion happens at load (a few seconds) and leaves no file behind. Speed and agreement with
float32: docs/performance.md.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ..errors import InputError
from ..faces.engine import lite_interpreter
from ..models.serving import write_saved_model


class QuantizedNetwork:
    """``model`` converted for a fixed batch of ``batch_size``; :meth:`predict_on_batch` takes and returns
    what the Keras model's does (its inputs in order, one array or a list)."""

    def __init__(self, model, batch_size: int):
        import keras

        if keras.backend.backend() != "tensorflow":
            raise InputError(
                None,
                f"--precision int8 runs the network in TFLite: it needs KERAS_BACKEND=tensorflow, not "
                f"{keras.backend.backend()}",
            )
        import tensorflow as tf

        with tempfile.TemporaryDirectory(prefix="cunet-int8-") as tmp:
            self._names = write_saved_model(model, tmp, batch_size)
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
            flat = converter.convert()
        self._interpreter = lite_interpreter()(model_content=flat, num_threads=os.cpu_count() or 1)
        (signature,) = self._interpreter.get_signature_list()  # the one endpoint (TFLite renames it)
        self._run = self._interpreter.get_signature_runner(signature)

    def predict_on_batch(self, inputs):
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        outputs = self._run(**{name: np.asarray(x, np.float32) for name, x in zip(self._names, inputs)})
        return next(iter(outputs.values()))
