"""Export a trained network for serving: a TensorFlow SavedModel and a TFLite flatbuffer.

    python -m cunet.evaluation.export runs/cunet-complex-cnn            # -> runs/cunet-complex-cnn/export/

Only the network is exported; the STFT, patching and overlap-add stay outside (cunet/audio.py and
cunet/separation/ do them), because STFT ops differ between runtimes and TFLite has none that matches. The
inputs are those of the Keras model (magnitude patches and condition, or spectrogram and video /
landmarks) with a free batch dimension; ``signature.json`` beside the files names them. Needs the
TensorFlow backend (the default).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ..cli import run_command
from ..errors import InputError
from ..fileio import atomic_dir, save_json
from ..outputs import check_output_folder, unwritable, writing


def export(model_path: str | Path, out: str | Path | None = None) -> Path:
    """Write ``saved_model/``, ``model.tflite`` and ``signature.json`` into ``out`` (default: <run>/export)."""
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent  # as load_run
    out = Path(out) if out else folder / "export"
    check_out(out)  # before Keras loads (seconds) and the model converts

    import keras
    import tensorflow as tf

    from ..models.run import load_run
    from ..models.serving import write_saved_model

    if keras.backend.backend() != "tensorflow":
        raise InputError(None, f"export needs KERAS_BACKEND=tensorflow, not {keras.backend.backend()}")
    run = load_run(model_path)
    model = run.model

    def saved_model(path, batch):
        try:
            return write_saved_model(model, path, batch)
        except tf.errors.OpError as err:
            # TensorFlow's file system reports a full disk as its own error, "<temporary file>; <the system's
            # complaint>": the temporary name would mean nothing to the user
            complaint = err.message.rsplit("; ", 1)[-1]
            raise unwritable(out, OSError(f"TensorFlow: {complaint}; is the disk full?")) from None

    with writing(out), atomic_dir(out, clean_stale=True) as tmp:
        names = saved_model(tmp / "saved_model", None)
        # TFLite gets batch 1: with a free batch dimension its converter mis-sizes the Y-Net's tensors. That
        # model is written inside the folder being made, so that a full disk is reported against it and a
        # killed export leaves nothing elsewhere; it is removed before the folder is renamed into place.
        single = tmp / "batch1_saved_model"
        saved_model(single, 1)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(single))
        flex = False
        try:
            tflite = converter.convert()
        except Exception:  # an op TFLite lacks: TensorFlow's own kernels then (the flex delegate)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
            tflite, flex = converter.convert(), True
        shutil.rmtree(single)
        (tmp / "model.tflite").write_bytes(tflite)
        save_json(
            tmp / "signature.json",
            {
                "model": run.model_cfg.model,
                "inputs": [{"name": n, "shape": list(t.shape[1:])} for n, t in zip(names, model.inputs)],
                "output_shape": list(model.outputs[0].shape[1:]),
                "tflite_batch": 1,
                "tflite_needs_select_tf_ops": flex,
            },
        )
    return out


def check_out(out: Path) -> None:
    """Refuse an output that cannot become an export folder: a file, another kind of folder, a place that
    may not be written into."""
    # written whole beside itself, then renamed
    check_output_folder(out, "-o", beside=True, marker="signature.json", kind="a cunet export folder")


def build_parser() -> argparse.ArgumentParser:
    """The export command's flags."""
    p = argparse.ArgumentParser(
        prog="python -m cunet.evaluation.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a run folder, or its model.keras")
    p.add_argument("-o", "--out", help="output folder (default: <run>/export)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Export a run's network (``python -m cunet.evaluation.export``); returns the exit status."""
    args = build_parser().parse_args(argv)

    def body():
        out = export(args.model, args.out)
        print(f"exported: {out / 'saved_model'}, {out / 'model.tflite'}")

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
