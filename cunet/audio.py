"""The one audio core: reading, writing, resampling and the STFT, for every stage of cunet.

Arrays are channels-first: a signal is ``(channels, samples)`` float32, a spectrogram is
``(..., bins, frames)`` complex64, as librosa lays them out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import scipy.fft
import soundfile as sf
import soxr

from .errors import InputError
from .fileio import atomic_path
from .sndfile import check_wav_complete, sf_name

# Read by libsndfile, sample-exact: streamed from the file itself.
LOSSLESS_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff")
# Decoded by PyAV (FFmpeg) into a temporary float wav first, then streamed from there.
COMPRESSED_EXTENSIONS = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma")
AUDIO_EXTENSIONS = LOSSLESS_EXTENSIONS + COMPRESSED_EXTENSIONS
# Their audio track is separated when one is named explicitly (in a folder they are a Y-Net's video).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm")
OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3"}


@dataclasses.dataclass(frozen=True)
class StftConfig:
    """An STFT convention. Both originals use a periodic Hann window and reflect-padded centring."""

    sample_rate: int
    n_fft: int
    hop: int
    center: bool = True
    # librosa 0.7 (C-U-Net's) and torch (Y-Net's) both reflect; librosa >= 0.10 defaults to zeros.
    pad_mode: str = "reflect"

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        if self.center:
            return 1 + n_samples // self.hop
        return 1 + (n_samples - self.n_fft) // self.hop

    def seconds_per_frame(self) -> float:
        return self.hop / self.sample_rate


# C-U-Net: librosa.stft at 8192 Hz, 513 bins.
CUNET_STFT = StftConfig(sample_rate=8192, n_fft=1024, hop=256)
# Y-Net: torch.stft at 16384 Hz, 512 bins; 65535 samples give exactly 256 frames.
YNET_STFT = StftConfig(sample_rate=16384, n_fft=1022, hop=256)


def hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy's ``fftbins=True``, torch's default)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def stft(x: np.ndarray, cfg: StftConfig, frames_first: bool = False) -> np.ndarray:
    """Complex STFT of ``x`` (..., samples) -> (..., n_fft//2+1, frames) complex64, or (..., frames, bins)
    with ``frames_first`` (the layout the FFT produces: no transposing copy)."""
    x = np.asarray(x, dtype=np.float32)
    if cfg.center:
        pad = [(0, 0)] * (x.ndim - 1) + [(cfg.n_fft // 2, cfg.n_fft // 2)]
        # numpy's stubs take the mode as a Literal; the config's field is a str (a JSON value), checked by numpy
        x = np.pad(x, pad, mode=cfg.pad_mode)  # type: ignore[call-overload]
    if x.shape[-1] < cfg.n_fft:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than one STFT frame ({cfg.n_fft})")
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft, axis=-1)[..., :: cfg.hop, :]
    spec = scipy.fft.rfft(frames * hann(cfg.n_fft), axis=-1, workers=-1).astype(np.complex64, copy=False)
    return spec if frames_first else np.ascontiguousarray(np.swapaxes(spec, -1, -2))


def real_imag(spec: np.ndarray) -> np.ndarray:
    """A complex spectrogram as float32 with a trailing (real, imaginary) axis, as the Y-Net takes it."""
    return np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _inverse_window_sum(n: int, hop: int, n_frames: int) -> np.ndarray:
    """1 / the squared Hann window of ``n_frames`` frames every ``hop`` samples, summed (1 where no frame reaches),
    which :func:`istft` multiplies its result by; read-only, shared. Each hop-wide slice of the sum is a run of
    consecutive slices of the window: cumulative sums give it in one pass over the output, not n_frames * n."""
    window = hann(n)
    m = -(-n // hop)
    pieces = np.zeros(m * hop, np.float64)
    pieces[:n] = window.astype(np.float64) ** 2
    cum = np.concatenate([np.zeros((1, hop)), np.cumsum(pieces.reshape(m, hop), axis=0)])
    i = np.arange(n_frames + m - 1)
    # output slice i holds window slice j of frame i - j, for 0 <= j < m and 0 <= i - j < n_frames
    norm = (cum[np.minimum(i, m - 1) + 1] - cum[np.maximum(0, i - n_frames + 1)]).reshape(-1).astype(np.float32)
    out = (1 / np.where(norm > 1e-10, norm, 1.0)).astype(np.float32)
    out.setflags(write=False)
    return out


def _masked(part: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``part * mask``; a mask of k < bins columns covers the first k - 1 bins, its last column every bin above
    (a band-limited model's masks extended upwards by one value per frame, never spread over every bin)."""
    if mask.shape[-1] == part.shape[-1]:
        return part * mask
    k = mask.shape[-1] - 1
    out = np.empty(np.broadcast_shapes(part.shape, mask.shape[:-1] + (part.shape[-1],)), part.dtype)
    np.multiply(part[..., :k], mask[..., :k], out=out[..., :k])
    np.multiply(part[..., k:], mask[..., k:], out=out[..., k:])
    return out


def istft(
    spec: np.ndarray,
    cfg: StftConfig,
    length: int | None = None,
    frames_first: bool = False,
    mask: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Inverse of :func:`stft` (of the same layout) by windowed overlap-add, normalised by the summed
    squared window; with ``mask`` (broadcasting against ``spec``), the inverse of ``mask * spec``.

    Args:
        spec: (..., bins, frames) complex, or (..., frames, bins) with ``frames_first``.
        cfg: the STFT convention it was taken with.
        length: samples to return (default: all the frames cover, less the centring pad).
        frames_first: the layout of ``spec`` and ``mask``.
        mask: real, broadcasting against ``spec``; with fewer bins than ``spec``, its last bin is the mask of
            every bin from there up.
        out: a float32 array of the result's shape to write into (no copy of the result is made then).
    Returns:
        (..., samples) float32: ``out`` when given.

    Frames are inverted a few megabytes at a time (the product formed there too) and added into the output,
    so the working memory stays small and in cache whatever the length."""
    spec = np.asarray(spec)
    if not frames_first:
        spec = np.swapaxes(spec, -1, -2)
        mask = None if mask is None else np.swapaxes(mask, -1, -2)
    if spec.shape[-1] != cfg.n_bins:
        raise ValueError(f"spectrogram has {spec.shape[-1]} bins, the convention expects {cfg.n_bins}")
    if mask is not None and not 1 <= mask.shape[-1] <= spec.shape[-1]:
        raise ValueError(f"a mask of {mask.shape[-1]} bins for a spectrogram of {spec.shape[-1]}")
    if mask is not None:
        batch = np.broadcast_shapes(spec.shape[:-2], mask.shape[:-2])
        spec = np.broadcast_to(spec, (*batch, *spec.shape[-2:]))
        mask = np.broadcast_to(mask, (*batch, *mask.shape[-2:]))
    window = hann(cfg.n_fft)
    *lead, n_frames, _ = spec.shape
    m = -(-cfg.n_fft // cfg.hop)
    y = np.zeros((*lead, (n_frames + m - 1) * cfg.hop), np.float32)
    # hop-wide rows of the output: frame i's j-th hop-wide slice is added to row i + j, straight into y
    rows = y.reshape(*lead, n_frames + m - 1, cfg.hop)
    # about half a megabyte of frames at a time: the chunk's spectrum, frames and output rows stay in a
    # core's L2 cache (measured on Zen 4: 2 MB chunks took 30 % longer)
    step = max(8, (1 << 19) // (cfg.n_fft * max(1, int(np.prod(lead)))))
    for a in range(0, n_frames, step):
        part = (
            spec[..., a : a + step, :]
            if mask is None
            else _masked(spec[..., a : a + step, :], mask[..., a : a + step, :])
        )
        # a masked part is this loop's own array: the transform may work in it
        frames = scipy.fft.irfft(part, n=cfg.n_fft, axis=-1, workers=-1, overwrite_x=mask is not None).astype(
            np.float32, copy=False
        )
        frames *= window
        for j in range(m):
            piece = frames[..., j * cfg.hop : (j + 1) * cfg.hop]
            rows[..., a + j : a + j + piece.shape[-2], : piece.shape[-1]] += piece
    start = cfg.n_fft // 2 if cfg.center else 0
    stop = y.shape[-1] - start if length is None else start + length
    if out is None:
        out = np.empty((*lead, stop - start), np.float32)
    elif out.shape != (*lead, stop - start):
        raise ValueError(f"out has shape {out.shape}, the inverse has {(*lead, stop - start)}")
    have = max(0, min(stop, y.shape[-1]) - start)
    inverse = _inverse_window_sum(cfg.n_fft, cfg.hop, n_frames)[start : start + have]
    np.multiply(y[..., start : start + have], inverse, out=out[..., :have])  # normalised as it is copied
    out[..., have:] = 0
    return out


def info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file, after checking that the file is readable and complete."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "audio file not found")
    if path.suffix.lower() == ".wav":
        check_wav_complete(path)
    try:
        meta = sf.info(sf_name(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise InputError(path, f"unreadable audio file ({err})") from None
    if meta.frames <= 0:
        raise InputError(path, "audio file holds no samples")
    return meta


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of (channels, samples), soxr 'HQ' as librosa.load does."""
    if rate_in == rate_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    y = soxr.resample(np.ascontiguousarray(x.T), rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(y.T, dtype=np.float32)


def remix_channels(x: np.ndarray, channels: int, path: str | os.PathLike = "") -> np.ndarray:
    """Mono to stereo by copying, any number of channels to mono by averaging."""
    if channels == x.shape[0]:
        return x
    if channels == 1:
        return x.mean(axis=0, keepdims=True, dtype=np.float32)
    if x.shape[0] == 1:
        return np.repeat(x, channels, axis=0)
    raise InputError(path, f"cannot turn {x.shape[0]} channels into {channels}")


def read(
    path: str | os.PathLike, sample_rate: int | None = None, channels: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a wav/flac file into float32 (channels, samples), optionally resampled and remixed.

    Channels are remixed before resampling (half the work for stereo to mono); both are linear,
    so the order does not change the result beyond rounding.
    """
    meta = info(path)
    try:
        data, rate = sf.read(sf_name(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise InputError(path, f"unreadable audio file ({err})") from None
    if data.shape[0] != meta.frames:
        raise InputError(path, f"truncated audio: header declares {meta.frames} samples, read {data.shape[0]}")
    x = np.ascontiguousarray(data.T)
    if channels is not None:
        x = remix_channels(x, channels, path)
    if sample_rate is not None and sample_rate != rate:
        x, rate = resample(x, rate, sample_rate), sample_rate
    return x, rate


def read_span(path: str | os.PathLike, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of a wav/flac file as float32 (channels, samples), without reading the rest."""
    try:
        with sf.SoundFile(sf_name(path)) as f:
            f.seek(max(0, start))
            data = f.read(max(0, stop - max(0, start)), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise InputError(path, f"unreadable audio file ({err})") from None
    return np.ascontiguousarray(data.T)


def _format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(path, f"unsupported output format {path.suffix!r}; use {', '.join(OUTPUT_FORMATS)}")
    return fmt


def output_subtype(path: str | os.PathLike, bits: int | None = None) -> str:
    """libsndfile's encoding for ``path``: ``bits`` 16 or 24 (integer PCM) or 32 (float; wav only).
    Defaults: float wav, 24-bit flac; mp3 has one."""
    fmt = _format(Path(path))
    if fmt == "MP3":
        return "MPEG_LAYER_III"
    bits = bits or (32 if fmt == "WAV" else 24)
    subtype = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}.get(bits)
    if subtype is None or (fmt == "FLAC" and bits == 32):
        raise InputError(
            path, f"{bits}-bit {fmt.lower()} is not a choice: use 16, 24{' or 32' if fmt == 'WAV' else ''}"
        )
    return subtype


def decode(path: str | os.PathLike, out: str | os.PathLike) -> None:
    """The first audio track of a compressed file or a video (PyAV) -> a float wav ``out``, frame by frame."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(path, "holds no audio stream")
            stream = container.streams.audio[0]
            channels = stream.codec_context.layout.nb_channels
            resample = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=stream.rate)
            with sf.SoundFile(sf_name(out), "w", stream.rate, channels, "FLOAT", format="WAV") as f:
                for frame in container.decode(stream):
                    for piece in resample.resample(frame):
                        f.write(piece.to_ndarray().T)
                for piece in resample.resample(None):
                    f.write(piece.to_ndarray().T)
    except InputError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path, f"cannot decode its audio ({err})") from None


@contextlib.contextmanager
def opened(path: str | os.PathLike):
    """An audio file of any format users hold, ready for :func:`read_span`: yields the path to read from
    (the file itself, or a temporary float wav decoded from it, removed afterwards) and its header."""
    import tempfile

    path = Path(path)
    if path.suffix.lower() in LOSSLESS_EXTENSIONS:
        yield path, info(path)
        return
    if not path.is_file():
        raise InputError(path, "audio file not found")
    with tempfile.TemporaryDirectory(prefix="cunet-decode-") as tmp:
        wav = Path(tmp) / "decoded.wav"
        decode(path, wav)
        meta = sf.info(str(wav))
        if meta.frames <= 0:
            raise InputError(path, "holds no audio samples")
        yield wav, meta


@contextlib.contextmanager
def writer(path: str | os.PathLike, sample_rate: int, channels: int, subtype: str | None = None):
    """Yields a function that appends (channels, samples) blocks to ``path``; the file appears there only
    when the block of code ends without an error (written under a temporary name until then)."""
    path = Path(path)
    fmt = _format(path)
    with atomic_path(path) as tmp:
        subtype = "MPEG_LAYER_III" if fmt == "MP3" else subtype or "PCM_16"
        with sf.SoundFile(sf_name(tmp), "w", sample_rate, channels, subtype, format=fmt) as f:
            yield lambda block: f.write(np.ascontiguousarray(np.asarray(block, np.float32).T))


def write(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write (channels, samples) or (samples,) as wav/flac, atomically (temporary name, then rename).

    ``subtype`` defaults to PCM_16 for both formats; pass "FLOAT" for lossless float32 wav.
    """
    path = Path(path)
    fmt = _format(path)
    audio = np.asarray(audio)
    data = audio.T if audio.ndim == 2 else audio
    subtype = "MPEG_LAYER_III" if fmt == "MP3" else subtype or "PCM_16"
    with atomic_path(path) as tmp:
        sf.write(sf_name(tmp), data, sample_rate, subtype=subtype, format=fmt)
