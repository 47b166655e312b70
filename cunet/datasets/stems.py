"""What every multi-stem dataset reader gives a store builder: tracks made of named stems, each stem the sum
of one or more files, and the choice of which sources (stems, or sums of stems) a store's conditions name.

A reader (``moisesdb``, ``slakh``, ``folders``; MUSDB18-HQ maps onto it with one file per stem) returns
:class:`StemTrack` objects with their splits. A builder then:

1. picks the sources with :func:`select_sources` over :func:`available_stems` of the tracks,
2. drops the tracks holding none of them with :func:`split_by_sources` (the reasons go in its warning),
3. calls :meth:`StemTrack.check` on every track (headers only) before writing anything,
4. per track: :meth:`StemTrack.load`, then :func:`source_signals` for the sources and the mixture.

Files of one track may differ in sample rate: each is resampled to the rate asked for (the store's rate is
one rate in any case), so no rate is refused. Files that differ in length are padded with zeros to the
longest, with a :class:`StemWarning` naming the file and the difference. Stems a selection names but a
track lacks are silence in that track.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError
from . import checks

MIXTURE = "mixture"


class StemWarning(UserWarning):
    """Input that is read but not as it is: a file padded to the track's length, a stem left out."""


@dataclasses.dataclass(frozen=True)
class StemTrack:
    """One song: its stems on disk and the split it belongs to.

    ``stems`` maps a stem name to the files summed into it (only the stems this track holds);
    ``mixture`` is the mixture file, or None when the mixture is the sum of every stem; ``info`` is what
    the dataset says about the track (artist, genre...) for the manifest; ``notes`` what was left out."""

    name: str
    split: str
    path: Path
    stems: dict[str, tuple[Path, ...]] = dataclasses.field(hash=False)
    mixture: Path | None = None
    info: dict = dataclasses.field(default_factory=dict, hash=False)
    notes: tuple[str, ...] = ()

    @property
    def present(self) -> tuple[str, ...]:
        """The names of the stems this track holds."""
        return tuple(self.stems)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the track is read from (the stems', then the mixture)."""
        listed = [p for paths in self.stems.values() for p in paths]
        return tuple(listed + ([self.mixture] if self.mixture is not None else []))

    def _owner(self, path: Path) -> str:
        if path == self.mixture:
            return "the mixture"
        return next(f"stem {stem!r}" for stem, paths in self.stems.items() if path in paths)

    def check(self, min_seconds: float = 0.0) -> int:
        """Validate every file from its header alone; return the track's length in samples.

        Args:
            min_seconds: the shortest track the caller can use (the longest file must reach it).

        Returns:
            The longest file's length in samples at its own rate (files of one track may differ in rate).
            Compressed files' lengths are the container's estimate; they are exact once decoded."""
        if not self.stems:
            raise InputError(self.path, f"track {self.name!r} holds no stem")
        longest: tuple[int, int, Path] | None = None
        for path in self.files:
            try:
                rate, frames = _header(path)
            except FileNotFoundError:
                raise InputError(path, f"missing file of {self._owner(path)} of track {self.name!r}") from None
            if longest is None or frames * longest[0] > longest[1] * rate:
                longest = (rate, frames, path)
        if longest is None:  # not reached: every stem a reader makes holds a file
            raise InputError(self.path, f"track {self.name!r} holds no file")
        rate, frames, path = longest
        checks.require_duration(path, frames, rate, min_seconds, "a track")
        return frames

    def load(self, sample_rate: int, channels: int) -> dict[str, np.ndarray]:
        """Every stem of the track (the sum of its files) and the mixture, padded to one length.

        Args:
            sample_rate: the rate every file is resampled to.
            channels: 1 (averaged) or the files' channel count (mono files are copied to each channel).

        Returns:
            ``{stem: float32 (channels, samples)}`` for each stem present, and ``"mixture"``: the mixture
            file when the track has one, else the sum of every stem."""
        native, converted = {}, {}
        for path in self.files:  # one file's own samples at a time: a song's files at 44.1 kHz are large
            x, rate = _read_native(path)
            native[path] = (x.shape[-1], rate)
            converted[path] = _convert(x, rate, path, sample_rate, channels)
        longest = max(native, key=lambda p: (native[p][0] / native[p][1], str(p)))
        long_frames, long_rate = native[longest]
        for path, (frames, rate) in native.items():
            # warned when short by a whole sample of its own rate: files of the same duration at different
            # rates are not, whatever rounding their resampling leaves
            shortfall = long_frames * rate - frames * long_rate
            if shortfall >= long_rate:
                warnings.warn(
                    f"{path}: {shortfall / (rate * long_rate):.3f} s ({shortfall // long_rate} samples at "
                    f"{rate} Hz) shorter than {longest} "
                    f"({self._owner(path)} of track {self.name!r}); padded with zeros",
                    StemWarning,
                    stacklevel=2,
                )
        length = max(x.shape[-1] for x in converted.values())
        padded = {p: np.pad(x, ((0, 0), (0, length - x.shape[-1]))) for p, x in converted.items()}
        out = {stem: _sum(padded[p] for p in paths) for stem, paths in self.stems.items()}
        out[MIXTURE] = padded[self.mixture] if self.mixture is not None else _sum(out.values())
        return out


def _sum(arrays) -> np.ndarray:
    arrays = iter(arrays)
    total = next(arrays).copy()
    for x in arrays:
        total += x
    return total


def _header(path: Path) -> tuple[int, int]:
    """(sample rate, samples) from a file's header; FileNotFoundError when it is not there."""
    if not path.is_file():
        raise FileNotFoundError(path)
    if path.suffix.lower() in audio.LOSSLESS_EXTENSIONS:
        meta = checks.header(path)
        return int(meta.samplerate), int(meta.frames)
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(path, "holds no audio stream")
            stream = container.streams.audio[0]
            seconds = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base  # a demuxed stream always has one: the test is for mypy
                else (container.duration or 0) / av.time_base
            )
            rate = int(stream.rate)
    except InputError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path, f"cannot read its audio header ({err})") from None
    if seconds > 0:
        return rate, int(round(seconds * rate))
    with audio.opened(path) as (_, meta):  # a container that does not say how long it is: decode it
        return int(meta.samplerate), int(meta.frames)


def _read_native(path: Path) -> tuple[np.ndarray, int]:
    """A file's own samples and rate (compressed files decoded by FFmpeg, as everywhere in cunet)."""
    if path.suffix.lower() in audio.LOSSLESS_EXTENSIONS:
        x, rate = audio.read(path)
    else:
        with audio.opened(path) as (wav, _):
            x, rate = audio.read(wav)
    checks.refuse_non_finite(x, path, rate)
    return x, rate


def _convert(x: np.ndarray, rate: int, path: Path, sample_rate: int, channels: int) -> np.ndarray:
    y = audio.resample(audio.remix_channels(x, channels, path), rate, sample_rate)
    if not np.isfinite(y).all():  # finite samples so large that remixing or resampling overflowed float32
        raise InputError(path, f"holds samples too large to convert (up to {float(np.abs(x).max()):.3g})")
    return y


def available_stems(tracks: Sequence[StemTrack]) -> tuple[str, ...]:
    """Every stem name any of ``tracks`` holds, sorted (the dataset's own stems, in a stable order)."""
    return tuple(sorted({stem for track in tracks for stem in track.stems}))


def parse_group(text: str) -> tuple[str, tuple[str, ...]]:
    """``"keys=piano+other_keys"`` (a ``--group`` value) -> ``("keys", ("piano", "other_keys"))``."""
    name, sep, members = text.partition("=")
    parts = tuple(m.strip() for m in members.split("+"))
    if not sep or not name.strip() or not all(parts):
        raise InputError(None, f"--group {text!r} is not of the form NAME=STEM+STEM...")
    return name.strip(), parts


def select_sources(
    available: Sequence[str],
    sources: Sequence[str] | None = None,
    rest: str = "other",
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Which stems make each source of a store.

    A name in ``sources`` that is a group is the sum of the group's stems; one that is a stem selects it;
    ``rest`` collects its own stem (if the dataset has one) and every stem no other source names. Stems no
    source names are left out of the targets (they still sound in the mixture).

    Args:
        available: the dataset's stem names (:func:`available_stems`).
        sources: the sources in condition order; None: every stem, a group in place of its members.
        rest: the name of the source that collects the stems not named.
        groups: ``{name: stems}``, sources defined as sums of stems (``--group``).

    Returns:
        ``{source: stems}``, in the order of ``sources``; stems in the order of ``available``."""
    sums: dict[str, tuple[str, ...]] = {name: tuple(members) for name, members in (groups or {}).items()}
    have = f"the dataset has {', '.join(available) or 'no stems'}"
    owner: dict[str, str] = {}
    for name, members in sums.items():
        if name in available and name not in members:
            raise InputError(
                None, f"--group {name}: {name!r} is a stem of the dataset and not in the group; choose another name"
            )
        for stem in members:
            if stem not in available:
                raise InputError(None, f"--group {name}: no stem {stem!r}; {have}")
            if owner.setdefault(stem, name) != name:
                raise InputError(None, f"stem {stem!r} is in two groups, {owner[stem]!r} and {name!r}")
        sums[name] = tuple(stem for stem in available if stem in members)
    if sources is None:
        ordered = dict.fromkeys(owner.get(stem, stem) for stem in available)
        return {name: sums.get(name, (name,)) for name in ordered}
    if len(set(sources)) != len(sources):
        raise InputError(None, f"--sources names a source twice: {list(sources)}")
    unused = [name for name in sums if name not in sources]
    if unused:
        raise InputError(None, f"--group {unused[0]} is not among --sources {' '.join(sources)}")
    if rest in sums and rest in sources:
        raise InputError(None, f"{rest!r} is both a group and the source that collects the other stems (--rest)")
    chosen: dict[str, tuple[str, ...]] = {}
    for name in sources:
        if name in sums:
            chosen[name] = sums[name]
        elif name in available:
            chosen[name] = (name,)
        elif name == rest:
            chosen[name] = ()
        else:
            listed = f"{have}{'; groups: ' + ', '.join(sums) if sums else ''}"
            raise InputError(None, f"no source {name!r}: {listed}")
        for stem in chosen[name]:
            if owner.setdefault(stem, name) != name:
                raise InputError(None, f"stem {stem!r} is in two sources, {owner[stem]!r} and {name!r}")
    if rest in chosen:
        chosen[rest] = tuple(s for s in available if s not in owner or owner[s] == rest)
        if not chosen[rest]:
            raise InputError(None, f"source {rest!r} collects no stem: every stem of the dataset is named")
    return chosen


def present_sources(track: StemTrack, selection: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The sources of ``selection`` that ``track`` holds at least one stem of."""
    return tuple(source for source, stems in selection.items() if any(s in track.stems for s in stems))


def split_by_sources(
    tracks: Sequence[StemTrack], selection: Mapping[str, Sequence[str]]
) -> tuple[list[StemTrack], list[dict]]:
    """The tracks holding at least one selected source, and the others, each with the reason (for the
    builder's warning and the manifest): ``{"name", "split", "reason"}``."""
    kept, skipped = [], []
    for track in tracks:
        if present_sources(track, selection):
            kept.append(track)
        else:
            holds = ", ".join(track.stems) or "no stem"
            skipped.append(
                {
                    "name": track.name,
                    "split": track.split,
                    "reason": f"none of the sources {', '.join(selection)} (it holds {holds})",
                }
            )
    return kept, skipped


def source_signals(loaded: Mapping[str, np.ndarray], selection: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Each selected source as the sum of its stems in ``loaded`` (:meth:`StemTrack.load`), silence where
    the track holds none of them, and the mixture as it was loaded."""
    mixture = loaded[MIXTURE]
    out = {}
    for source, stems in selection.items():
        held = [loaded[s] for s in stems if s in loaded]
        out[source] = _sum(held) if held else np.zeros_like(mixture)
    out[MIXTURE] = mixture
    return out


def seeded_pick(
    names: Sequence[str],
    given: Sequence[str],
    fraction: float,
    seed: int,
    flag: str,
    among: str = "the dataset's tracks",
) -> tuple[list[str], str]:
    """Tracks for a split with no official list: the ``given`` names, or a seeded ``fraction`` of ``names``
    (at least one, never all); and how they were chosen, for the manifest.

    Args:
        names: the tracks to pick from.
        given: names the user listed (``flag``); each must be among ``names``.
        fraction: of ``names``, when nothing is given.
        seed: the picking's seed; the same seed picks the same tracks.
        flag: the option the names come from, and ``among`` what ``names`` are, for the message.

    Returns:
        (the picked names, sorted; ``"given"``, ``"seeded-fraction-F"`` or ``"none"``)."""
    if given:
        given = [checks.printable(n) for n in given]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise InputError(None, f"{flag} names tracks not among {among}: {unknown}")
        return sorted(set(given)), "given"
    if len(names) < 2 or fraction <= 0:
        return [], "none"
    count = min(len(names) - 1, max(1, round(fraction * len(names))))
    picked = np.random.default_rng(seed).choice(len(names), size=count, replace=False)
    return sorted(names[i] for i in picked), f"seeded-fraction-{fraction}"
