"""The public face: load a separator, separate a file (``cunet.load_separator``, ``cunet.separate_file``)."""

from __future__ import annotations


def load_separator(model, **options):
    """The separator for a trained run folder or ``model.keras``.

    Args:
        model: the run folder or model file.
        options: :class:`cunet.separation.streaming.SeparateConfig` fields (``extend``, ``residual``,
            ``wiener``, ``precision``, ``batch_size``, ...). A magnitude model given ``wiener`` with
            ``extend="zero"`` gets ``residual`` too: the band above the model's is the residual's alone.
    Returns:
        A separator: ``targets``, ``sample_rate``, ``separate(audio, rate, *, visual=None)`` -> {stem: array}.
    """
    from .separation.load import load_separator as load

    return load(model, **options)


def separate_file(model, path, out="separated", *, template=None, bits=None, clip_mode=None, progress=None, **options):
    """Separate one audio file into full-band stems.

    Args:
        model: a separator from :func:`load_separator`, or a run folder / model file to load one from.
        path: the audio file (wav, flac, mp3, m4a, ogg, ... or a video's audio track).
        out: the output folder.
        template, bits, clip_mode: output names, bit depth and clipping
            (:class:`cunet.separation.writers.OutputConfig`; None keeps its default).
        progress: called with the number of input samples each step finished.
        options: separation settings when ``model`` is a path (as :func:`load_separator`).
    Returns:
        The list of files written, one per stem.
    """
    import dataclasses

    from .separation.separator import Separator
    from .separation.writers import OutputConfig
    from .separation.writers import separate_file as separate

    if isinstance(model, Separator) and options:
        raise ValueError(f"separation options {sorted(options)} apply when loading: pass them to load_separator")
    separator = model if isinstance(model, Separator) else load_separator(model, **options)
    given = {"template": template, "bits": bits, "clip_mode": clip_mode}
    cfg = dataclasses.replace(OutputConfig(), **{k: v for k, v in given.items() if v is not None})
    return separate(separator, path, out, cfg, progress)
