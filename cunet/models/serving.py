"""A Keras model as a TensorFlow SavedModel with one endpoint, ``serve``: what the export command writes and
what ``--precision int8`` converts to LiteRT (TensorFlow backend only)."""

from __future__ import annotations

from pathlib import Path


def write_saved_model(model, path: str | Path, batch: int | None) -> list[str]:
    """Write ``model`` to ``path`` with a ``serve`` endpoint taking its inputs in order, each of batch ``batch``
    (None: any), named as the model's inputs; the names, in order."""
    import keras
    import tensorflow as tf

    specs = [tf.TensorSpec((batch, *t.shape[1:]), tf.float32, name=t.name) for t in model.inputs]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve", lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False), input_signature=specs
    )
    archive.write_out(str(path), verbose=False)
    return [spec.name for spec in specs]
