"""The interface every separable model implements, and what it implements once for all of them.

A separator knows its ``targets``, the ``sample_rate`` its network works at and the ``visual`` input it
needs besides audio ("none", "video" or "landmarks"). A family implements :meth:`Separator._stream` (a
:class:`~cunet.separation.streaming.Source` in, consecutive (targets, channels, samples) pieces out); the
residual stem, the in-memory :meth:`Separator.separate` and the checks live here, so callers never need
to know which family they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models.card import ModelCard
from .bands import BandMap, input_stft
from .precision import resolve, with_precision
from .streaming import Block, SeparateConfig, Source, cross_faded

RESIDUAL = "residual"


def chosen_targets(card: ModelCard, cfg: SeparateConfig) -> tuple[str, ...]:
    """The targets ``cfg`` picks among the card's, refusing a name the model does not separate.

    Args:
        card: the model's card (its targets come from the store it was trained on).
        cfg: ``targets`` (some of them, or of a C-U-Net's combinations, in that order) or ``two_stems``
            (one); neither: all the card's targets.

    Returns:
        The targets to separate."""
    chosen = (cfg.two_stems,) if cfg.two_stems else tuple(cfg.targets) or card.targets
    combined = [name for name, _ in card.combinations]
    unknown = [t for t in chosen if t not in card.targets and t not in combined]
    if unknown:
        flag = "--two-stems" if cfg.two_stems else "--targets"
        also = f" (and the combinations {', '.join(combined)})" if combined else ""
        raise InputError(
            None, f"{flag} {unknown[0]}: the model has no such target; it separates {', '.join(card.targets)}{also}"
        )
    return chosen


class Separator:
    """A trained model ready to separate, whatever its family (see the module's docstring): built from the Keras
    model, its card and the separation settings, its network set to compute at the precision that
    ``cfg.precision`` resolves to.

    Raises:
        InputError: ``cfg`` picks a target the model does not separate.
    """

    @property
    def visual(self) -> str:
        """The input the network needs besides audio: "none", "video" or "landmarks"."""
        return "none"

    def __init__(self, model, card: ModelCard, cfg: SeparateConfig = SeparateConfig()):
        self.card, self.cfg = card, cfg
        self._targets = chosen_targets(card, cfg)
        self.stft = card.stft
        self.precision = resolve(cfg.precision)
        self.model = with_precision(model, card, self.precision, cfg.batch_size)
        self._bands: dict[int, BandMap] = {}

    def band_map(self, rate: int) -> BandMap:
        """How the network's masks reach the STFT of an input at ``rate`` (bands.py)."""
        if rate not in self._bands:
            self._bands[rate] = BandMap(self.stft, self.stft.n_bins, input_stft(self.stft, rate), self.cfg.extend)
        return self._bands[rate]

    @classmethod
    def from_run(cls, run, cfg: SeparateConfig = SeparateConfig()) -> Separator:
        return cls(run.model, run.card, cfg)

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets this separator estimates: the card's, or those ``--targets``/``--two-stems`` pick."""
        return self._targets

    @property
    def residual_name(self) -> str:
        """The residual stem's name: ``no_<target>`` with ``--two-stems`` (Demucs' name), else residual."""
        return f"no_{self.cfg.two_stems}" if self.cfg.two_stems else RESIDUAL

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def has_residual(self) -> bool:
        """Whether a residual stem follows the targets (``--residual``, or ``--two-stems``' rest)."""
        return bool(self.cfg.residual or self.cfg.two_stems)

    @property
    def stems(self) -> tuple[str, ...]:
        """What :meth:`separate` returns: the targets, then the residual when asked for."""
        return self.targets + ((self.residual_name,) if self.has_residual else ())

    def check(self, source: Source, visual: np.ndarray | None = None, visual_name: str | Path | None = None) -> None:
        """Raise :class:`InputError` when ``source`` (with ``visual``) cannot be separated, before any work."""

    def warm_up(self) -> None:
        """Prepare the network for its first batch (tracing); separation works without it."""

    def input_scale(self, source: Source) -> float | None:
        """Read the whole of ``source`` once, checking every sample, and return what scales it for the network
        (None where the network takes it as it is): the one pass over an input before its separation.

        Raises:
            InputError: a NaN or infinite sample, or a truncated file, naming it.
        """
        source.scan(int(self.cfg.block_seconds * source.rate))
        return None

    def _separated(self, source: Source, visual, scale: float | None) -> Iterator[tuple[Block, np.ndarray]]:
        """Each block of ``source`` (:func:`blocks`) with its separation: (targets, channels, samples) over
        the block's samples."""
        raise NotImplementedError

    def stream(
        self,
        source: Source,
        *,
        visual: np.ndarray | None = None,
        visual_name: str | Path | None = None,
        progress: Callable[[int], None] | None = None,
        scale: float | None = None,
    ) -> Iterator[np.ndarray]:
        """Separate ``source`` in constant memory: one forward path, block after block (read, network,
        masks, inverse STFT, cross-fade with the previous block), whose pieces the caller consumes.

        Args:
            source: the input (:class:`Source`: an array or a file, read in spans).
            visual: a Y-Net's frames or landmarks at 25 fps from the first sample (others take none).
            visual_name: the file ``visual`` came from, for error messages.
            progress: called with the number of input samples each piece finished.
            scale: what :meth:`input_scale` returned for ``source``, if it was called (else computed here).

        Returns:
            Consecutive (stems, channels, samples) float32 pieces, ``source.frames`` samples in all.

        Raises:
            InputError: what :meth:`check` refuses, at once, before any block is read.
        """
        self.check(source, visual, visual_name)
        return self._pieces(source, visual, progress, scale)

    def _pieces(self, source: Source, visual, progress, scale) -> Iterator[np.ndarray]:
        done = 0
        for piece in cross_faded(self._separated(source, visual, scale)):
            if self.has_residual:  # what no target took: the input less the stems
                x = source.read(done, done + piece.shape[-1])
                piece = np.concatenate([piece, (x - piece.sum(0))[None]])
            done += piece.shape[-1]
            if progress:
                progress(piece.shape[-1])
            yield piece

    def separate(
        self,
        audio: np.ndarray,
        rate: int,
        *,
        visual: np.ndarray | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Separate audio held in memory.

        Args:
            audio: (channels, samples) or (samples,) float samples at ``rate``, any rate, any length.
            rate: its sample rate in Hz.
            visual: a Y-Net's frames (uint8 (T, 128, 96, 3)) or landmarks ((T, 68, 2)) at 25 fps.
            progress: called with the number of input samples each step finished.
        Returns:
            ``{stem: array}`` in :attr:`stems` order, each of ``audio``'s shape, rate and full band.
        """
        source = Source.from_array(audio, rate)
        out = np.concatenate(list(self.stream(source, visual=visual, progress=progress)), axis=-1)
        flat = np.ndim(audio) == 1
        return {stem: out[i, 0] if flat else out[i] for i, stem in enumerate(self.stems)}
