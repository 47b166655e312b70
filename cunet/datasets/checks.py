"""Checks the dataset readers share: file names that are not UTF-8, empty or too-short files, and samples
that are not numbers. Each refusal names the file, so a bad file among thousands is found at once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError


def printable(text: str | os.PathLike) -> str:
    """``text`` as it can be written to JSON and to any terminal: bytes of a file name that are not valid
    UTF-8 (which Python keeps as lone surrogates) become backslash escapes (``b'\\xff'`` -> ``\\xff``)."""
    text = os.fspath(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that does not stand for a byte: escape it as it is
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def header(path: Path):
    """An audio file's header (``audio.info``), with the two ways a file can fail before libsndfile
    sees it said plainly: missing (FileNotFoundError, which callers word for their layout) and empty.
    A file the user may not read raises PermissionError, which names it."""
    if os.stat(path).st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    return audio.info(path)


def require_duration(path: Path, frames: int, rate: int, min_seconds: float, what: str) -> None:
    """Refuse a file too short to give one frame of the store's STFT: nothing useful comes from it, and a
    few samples cannot even be padded for the STFT (let alone resampled to a lower rate)."""
    need = int(np.ceil(min_seconds * rate))
    if frames < need:
        raise InputError(
            path,
            f"too short: {frames} samples ({frames / rate:.4f} s at {rate} Hz); {what} needs "
            f"at least {need} samples ({min_seconds:.4f} s), one STFT frame of the store",
        )


def refuse_non_finite(x: np.ndarray, path: Path, rate: int, native: bool = True) -> None:
    """Refuse audio holding NaN or infinity (float wav files can): the store would carry them into every
    spectrogram and its statistics. Names the first bad sample when ``x`` is the file's own samples."""
    if np.isfinite(x).all():
        return
    bad = ~np.isfinite(x)
    first = int(np.flatnonzero(bad.any(axis=0))[0])
    channel = int(np.flatnonzero(bad[:, first])[0])
    where = (
        f"; the first, {x[channel, first]}, is sample {first} ({first / rate:.3f} s) of channel {channel}"
        if native
        else ""
    )
    raise InputError(path, f"has samples that are NaN or infinite ({int(bad.sum())} of them){where}")


def read(path: Path, sample_rate: int, channels: int) -> np.ndarray:
    """``audio.read`` at the store's rate and channels, refusing samples that are not finite numbers.

    Checked on the converted signal, which is small and which any NaN or infinity reaches (averaging and
    resampling spread them, they never vanish); only a refused file is read again at its own rate, to say
    where the first bad sample is."""
    x, _ = audio.read(path, sample_rate, channels)
    if not np.isfinite(x).all():
        own, rate = audio.read(path)
        refuse_non_finite(own, path, rate)
        # Finite samples so large that remixing or resampling overflowed float32.
        raise InputError(path, f"holds samples too large to convert (up to {float(np.abs(own).max()):.3g})")
    return x
