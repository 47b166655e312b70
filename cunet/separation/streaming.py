"""Separation in constant memory: the settings, audio sources, blocks and patch overlap-add.

Imports no model (numpy and cunet.audio only), so every separator and the command build on it. An input
is separated in blocks of ``block_seconds`` with ``context_seconds`` of extra audio either side;
neighbouring blocks are cross-faded over the context both covered, so no seam shows and no tail is
dropped. Inside a block a separator cuts spectrogram patches that overlap and are cross-faded with
raised-cosine weights summing to one.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import audio
from ..config import check_choice, choices
from ..errors import InputError
from ..faces.choice import check_face
from .bands import Extension

Precision = Literal["auto", "float32", "bfloat16", "int8"]
PRECISIONS = choices(Precision)


@dataclasses.dataclass(frozen=True)
class SeparateConfig:
    """How a separator turns audio into stems (what it writes to files is :class:`OutputConfig`'s)."""

    batch_size: int = 16
    patch_overlap: int = 16  # spectrogram frames two neighbouring patches share and cross-fade over
    block_seconds: float = 20.0  # audio separated at a time (magnitude models: the nearest length that fills
    # whole batches); memory does not grow with the track
    context_seconds: float = 1.0  # read on either side of a block, then cross-faded with the neighbour
    extend: Extension = "average"  # masks above the model's band: each frame's mean mask (Spleeter's), or zero
    residual: bool = False  # one more stem, the input less the estimates: the stems add up to the input
    wiener: int = 0  # magnitude models: iterations of the multichannel Wiener filter, at full band
    precision: Precision = "auto"  # network compute: bfloat16 where the CPU has native bf16 units, else float32;
    # int8: int8 weights in TFLite (U-Nets and C-U-Nets, TensorFlow backend; quantized.py)
    chunk_hop_frames: int = 75  # Y-Net: video frames between 4-s chunk starts (25 frames are cross-faded)
    face: str = "largest"  # Y-Net on a raw video: which singer (largest, left, right, center, or N from the left)
    targets: tuple[str, ...] = ()  # the model's targets to separate, in this order (empty: all of them)
    # "vocals": that target and the rest ("no_vocals", the input less it), as Demucs' --two-stems
    two_stems: str | None = None

    def __post_init__(self):
        if self.patch_overlap < 0:
            raise ValueError(f"patch_overlap must be >= 0, got {self.patch_overlap}")
        if self.block_seconds <= 2 * self.context_seconds or self.context_seconds < 0:
            raise ValueError("block_seconds must exceed twice context_seconds, which must be >= 0")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.wiener < 0:
            raise ValueError(f"wiener iterations must be >= 0, got {self.wiener}")
        check_choice("extend", self.extend, Extension)
        check_choice("precision", self.precision, Precision)
        check_face(self.face)
        if self.chunk_hop_frames < 1:
            raise ValueError(f"chunk_hop_frames must be positive, got {self.chunk_hop_frames}")
        if self.two_stems is not None and self.targets:
            raise ValueError("--two-stems NAME separates NAME and the rest: it takes no --targets")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"--targets names a target twice: {list(self.targets)}")


class Source:
    """Audio to separate: ``frames`` samples of ``channels`` at ``rate``, read in spans by :meth:`read`,
    which refuses non-finite samples naming ``name`` (a NaN would spread through every stem)."""

    def __init__(
        self,
        read: Callable[[int, int], np.ndarray],
        frames: int,
        rate: int,
        channels: int,
        name: str | Path | None = None,
    ):
        if frames <= 0:
            raise InputError(name, "nothing to separate: the input has no samples")
        self._read, self.frames, self.rate, self.channels, self.name = read, frames, rate, channels, name

    @classmethod
    def from_array(cls, x: np.ndarray, rate: int, name: str | None = None) -> Source:
        x = np.asarray(x, np.float32)
        x = x[None] if x.ndim == 1 else x
        if x.ndim != 2:
            raise ValueError(f"audio must be (samples,) or (channels, samples), got shape {x.shape}")
        if x.shape[1] <= 8 < x.shape[0]:  # soundfile and most readers give (samples, channels)
            raise ValueError(
                f"audio of shape {x.shape} looks like (samples, channels); cunet takes "
                f"(channels, samples): pass audio.T"
            )
        return cls(lambda a, b: x[:, a:b], x.shape[1], int(rate), x.shape[0], name)

    @classmethod
    def from_file(cls, path: Path, meta, name: str | Path | None = None) -> Source:
        """``path`` as :func:`audio.opened` gives it, with its header; ``name`` is the user's file."""
        return cls(lambda a, b: audio.read_span(path, a, b), meta.frames, meta.samplerate, meta.channels, name or path)

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = max(0, start), min(self.frames, stop)
        x = self._read(start, stop)
        if x.shape[-1] != max(0, stop - start):
            raise InputError(
                self.name,
                f"truncated: the header declares {self.frames} samples, reading {start}..{stop} gave {x.shape[-1]}",
            )
        bad = ~np.isfinite(x)
        if bad.any():
            at = start + int(bad.any(axis=0).argmax())
            raise InputError(
                self.name,
                f"holds NaN or infinite samples (the first at sample {at}, "
                f"{at / self.rate:.3f} s): nothing was separated",
            )
        return x

    def scan(self, block: int, visit: Callable[[np.ndarray], Any] | None = None) -> list[Any]:
        """Read the whole input once, in spans of ``block`` samples (checking every sample), two spans at a
        time in two threads (reading and ``visit`` release the GIL: this pass runs before the network starts,
        with both cores free); ``visit``'s result for each span, in order. The first span in order that fails
        its check is the one an error names, and at most one span after it is read."""

        def span(start: int) -> Any:
            x = self.read(start, start + block)
            return visit(x) if visit else None

        results: list[Any] = []
        with ThreadPoolExecutor(2) as pool:
            running: collections.deque = collections.deque()
            for start in range(0, self.frames, block):
                running.append(pool.submit(span, start))
                if len(running) == 2:
                    results.append(running.popleft().result())
            results += [future.result() for future in running]
        return results


def ramp(n: int) -> np.ndarray:
    """Raised-cosine fade-in of ``n`` steps; with its mirror image as fade-out the two sum to one."""
    return (np.sin(np.pi * (np.arange(n) + 0.5) / (2 * n)) ** 2).astype(np.float32) if n else np.zeros(0, np.float32)


def patch_weights(length: int, overlap: int) -> np.ndarray:
    """The cross-fade weights of a patch of ``length`` frames: a raised-cosine fade-in over its first
    ``overlap`` frames, the mirror fade-out over its last, ones between."""
    w = np.ones(length, np.float32)
    w[:overlap] = ramp(overlap)
    w[length - overlap :] = ramp(overlap)[::-1]
    return w


def patch_starts(frames: int, length: int, overlap: int) -> list[int]:
    """Starts of ``length``-frame patches every ``length - overlap`` frames that cover ``frames``."""
    if not 0 <= overlap <= length // 2:
        raise ValueError(f"patch_overlap must be within 0..{length // 2}, got {overlap}")
    hop = length - overlap
    return list(range(0, max(frames - length, 0) + hop, hop)) if frames > length else [0]


def overlap_add(patches: np.ndarray, starts: list[int], frames: int, overlap: int) -> np.ndarray:
    """(..., P, bins, length) patch estimates at ``starts`` -> (..., bins, frames), cross-faded."""
    length = patches.shape[-1]
    w = patch_weights(length, overlap)
    total = np.zeros((*patches.shape[:-3], patches.shape[-2], starts[-1] + length), np.float32)
    weight = np.zeros(total.shape[-1], np.float32)
    for k, s in enumerate(starts):
        total[..., s : s + length] += patches[..., k, :, :] * w
        weight[s : s + length] += w
    return total[..., :frames] / weight[:frames]


@dataclasses.dataclass(frozen=True)
class Block:
    """A block of an input: ``x``, the samples from ``lo`` on (its span ``start..stop`` with the context either
    side), and what the read-ahead computed from it (a separator's network part; None without one)."""

    x: np.ndarray
    lo: int
    start: int
    stop: int
    keep: int  # the samples of x no later block covers: the rest is cross-faded with the next block
    analysis: Any = None


def blocks(
    source: Source,
    cfg: SeparateConfig,
    analyse: Callable[[np.ndarray, int], Any] | None = None,
    first_seconds: float | None = None,
) -> Iterator[Block]:
    """The blocks of ``source``: ``cfg.block_seconds`` each (the first ``first_seconds`` long, when given)
    with ``cfg.context_seconds`` either side, read one block ahead in a second thread, where ``analyse(x, lo)``
    also runs, so that the network's part of the next block overlaps the signal processing of this one.
    A short first block starts that overlap sooner, because nothing overlaps the first block's network."""
    n, rate = source.frames, source.rate
    block, context = int(cfg.block_seconds * rate), int(cfg.context_seconds * rate)
    first = min(block, int(first_seconds * rate)) if first_seconds else block
    spans = [(0, min(n, first))] + [(start, min(n, start + block)) for start in range(first, n, block)]

    def read(start: int, stop: int) -> Block:
        lo = max(0, start - context)
        x = source.read(lo, min(n, stop + context))
        keep = x.shape[1] if stop == n else stop - context - lo
        return Block(x, lo, start, stop, keep, analyse(x, lo) if analyse else None)

    with ThreadPoolExecutor(1) as ahead:
        pending = ahead.submit(read, *spans[0])
        for k in range(len(spans)):
            current = pending.result()
            if k + 1 < len(spans):
                pending = ahead.submit(read, *spans[k + 1])
            yield current


def cross_faded(separated: Iterable[tuple[Block, np.ndarray]]) -> Iterator[np.ndarray]:
    """Each block's output (stems, channels, samples over the block's ``x``) joined to its neighbours: the
    samples two blocks both covered (their context) are cross-faded, and each piece is yielded once no later
    block covers it: the whole input's samples, in order."""
    tail = None  # the previous block's output over the samples the next one covers too
    for block, out in separated:
        if tail is not None:
            w = ramp(tail.shape[-1])
            out[..., : tail.shape[-1]] = tail * (1 - w) + out[..., : tail.shape[-1]] * w
        yield out[..., : block.keep]
        tail = out[..., block.keep :]
