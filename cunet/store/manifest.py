"""The store's format: its name and version, ``manifest.json`` as dataclasses, and the two functions that write
a manifest (a music store's and a singing store's) beside :func:`parse`, which reads one.

Every key a writer writes is a typed field here, read by the strict :func:`cunet.config.from_dict`: a key the
format does not know, a missing one, a value of the wrong type or a count that is negative or not finite is
refused naming the manifest and where in it (``tracks[3].n_frames``). A writer's manifest is parsed before it is
saved, so the writers and the reader cannot drift apart. The writers keep their key order, so a MUSDB18 store's
bytes stay what every earlier version wrote.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Annotated, Any, Literal

from ..config import from_dict
from ..errors import InputError

FORMAT, VERSION = "cunet-store", 1

# A count, a length or a magnitude: refused unless finite and >= 0 (JSON reads NaN, and a loader would not see it).
Count = Annotated[int, "finite, >= 0"]
Amount = Annotated[float, "finite, >= 0"]


def _is_non_negative(hint) -> bool:
    return typing.get_origin(hint) is Annotated and "finite, >= 0" in hint.__metadata__


@functools.cache  # read once per record type, not once per track of a store
def _non_negative_fields(record: type) -> tuple[tuple[str, bool], ...]:
    """(name, whether a dict of them) of the fields holding counts and magnitudes."""
    hints = typing.get_type_hints(record, include_extras=True)
    found = []
    for name, hint in hints.items():
        if _is_non_negative(hint):
            found.append((name, False))
        elif typing.get_origin(hint) is dict and _is_non_negative(typing.get_args(hint)[1]):
            found.append((name, True))
    return tuple(found)


def _check_numbers(record) -> None:
    for name, mapping in _non_negative_fields(type(record)):  # type: ignore[arg-type]  # classes hash
        values = getattr(record, name)
        for key, value in values.items() if mapping else [(name, values)]:
            if not (math.isfinite(value) and value >= 0):
                place = f"{name}[{key!r}]" if mapping else repr(name)
                raise ValueError(f"{place} is {value!r}, not a finite number >= 0")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """A part of a manifest: refuses a count or a magnitude that is negative or not finite."""

    def __post_init__(self) -> None:
        _check_numbers(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Source(Record):
    """Where the dataset was (absolute), and the accompaniment's folder of a singing store."""

    dataset: str
    root: str
    acc_root: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class StftRecord(Record):
    """The STFT the store was computed with; a music store's also says how its spectrograms are laid out."""

    n_fft: Count
    hop: Count
    window: str
    center: bool
    pad_mode: str
    dtype: str | None = None
    layout: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Track(Record):
    """A track of any store: its name, folder (relative to the store), split, audio samples and STFT (or
    video) frames."""

    name: str
    folder: str
    split: str
    n_samples: Count
    n_frames: Count


@dataclasses.dataclass(frozen=True, kw_only=True)
class MusicTrack(Track):
    """A music track: its STFT peaks (``stem_max_magnitude``'s ``mixture`` is the training scale), how far its
    mixture is from its stems' sum, and the sources it holds (multi-stem layouts; a MUSDB18 track holds all)."""

    max_magnitude: Amount
    stem_max_magnitude: dict[str, Amount]
    mixture_difference_db: float | None = None
    sources_present: tuple[str, ...] | None = None

    def holds(self, sources: typing.Iterable[str]) -> tuple[str, ...]:
        """Which of ``sources`` this track holds (a track that does not say holds them all)."""
        sources = tuple(sources)
        return sources if self.sources_present is None else tuple(s for s in sources if s in self.sources_present)

    def __post_init__(self) -> None:
        super().__post_init__()
        if "mixture" not in self.stem_max_magnitude:
            raise ValueError("'stem_max_magnitude' lacks 'mixture'")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SingingTrack(Track):
    """A singing recording (its audio samples beside its video frames): its level and who sings."""

    rms: Amount
    language: str = ""
    gender: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Clip(Record):
    """An accompaniment clip of a singing store."""

    name: str
    folder: str
    split: str
    n_samples: Count
    rms: Amount
    category: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MusicIndex(Record):
    """Rows of (track, start frame, condition) in ``file``: patches of ``patch_frames`` frames, ``hop`` apart."""

    file: str
    columns: tuple[str, ...]
    rows: Count
    patch_frames: Count
    hop: Count = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class SingingIndex(Record):
    """Rows of (track, start frame) in ``file`` of the recordings of ``split``: clips of ``video_frames``
    frames and ``clip_samples`` samples."""

    file: str
    columns: tuple[str, ...]
    rows: Count
    split: str
    video_frames: Count
    clip_samples: Count
    hop: Count = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class Conditions(Record):
    """The condition vectors' file, the name of each row, and the sources in condition order."""

    file: str
    names: tuple[str, ...] = ()
    order: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixtureDifference(Record):
    """A track whose mixture is not the sum of its stems, by how much (dB, the difference's energy over the
    mixture's)."""

    name: str
    difference_db: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixtureNotSum(Record):
    """The tracks whose mixture differs from their stems' sum by more than ``threshold_db``."""

    threshold_db: float
    tracks: tuple[MixtureDifference, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SetAside(Record):
    """A track left out of the store (it holds none of the sources), and why."""

    name: str
    split: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Manifest(Record):
    """What every manifest has: its format, what wrote it and from where, and the tracks."""

    format: str
    version: int
    kind: Literal["music", "singing"]
    sample_rate: Count
    stft: StftRecord
    cunet_version: str = ""
    config: dict[str, Any] = dataclasses.field(default_factory=dict)  # the preprocessing config, as written
    source: Source | None = None
    too_short: tuple[str, ...] = ()  # tracks too short for one training example


@dataclasses.dataclass(frozen=True, kw_only=True)
class MusicManifest(Manifest):
    """A music store: its stems (``mixture`` first), the sources a condition selects and the stems each sums,
    the tracks and their indexes, the conditions; ``splits`` records how the splits were chosen."""

    channels: Count
    stems: tuple[str, ...]
    sources: tuple[str, ...]
    tracks: tuple[MusicTrack, ...]
    indexes: dict[str, MusicIndex]
    conditions: Conditions
    splits: dict[str, Any] = dataclasses.field(default_factory=dict)
    mixture_not_sum: MixtureNotSum | None = None
    selection: dict[str, tuple[str, ...]] | None = None  # multi-stem layouts: {source: the stems it sums}
    rest: str | None = None
    groups: tuple[str, ...] = ()
    no_source: tuple[SetAside, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [s for s in ["mixture", *self.sources] if s not in self.stems]
        if missing:
            raise ValueError(f"'stems' lacks {missing}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SingingManifest(Manifest):
    """A singing store: its recordings and accompaniment clips, which accompaniment split feeds each split,
    the video frame rate and the audio samples per video frame."""

    fps: Count
    samples_per_frame: Amount
    tracks: tuple[SingingTrack, ...]
    accompaniment: tuple[Clip, ...]
    accompaniment_for_split: dict[str, str]
    indexes: dict[str, SingingIndex]


KINDS: dict[str, type[MusicManifest] | type[SingingManifest]] = {"music": MusicManifest, "singing": SingingManifest}


def parse(raw, path) -> MusicManifest | SingingManifest:
    """A manifest read from JSON, as its kind's dataclass.

    Raises:
        InputError: naming ``path`` and where in it: not an object, an unknown kind, or a key the format does
            not have, lacks, or holds a value of the wrong type or range.
    """
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in KINDS:
        raise InputError(path, f"unknown store kind {kind!r} (music or singing)")
    try:
        return from_dict(KINDS[kind], raw, path, "manifest")
    except InputError as err:
        raise InputError(path, f"{err.problem}: the manifest is damaged (re-run python -m cunet.preprocess)") from None


def stft_record(stft, complex_layout: bool) -> dict:
    """The manifest's record of the STFT the store was computed with; a music store's also says how its
    spectrograms are stored."""
    record = {
        "n_fft": stft.n_fft,
        "hop": stft.hop,
        "window": "hann-periodic",
        "center": stft.center,
        "pad_mode": stft.pad_mode,
    }
    return {**record, "dtype": "complex64", "layout": "bins x frames"} if complex_layout else record


def music_manifest(head: dict, stft, stems: list, sources: list, extra: dict, body: dict) -> dict:
    """A music store's manifest, its keys in the order every version wrote them.

    Args:
        head: cunet_version, config and source (where the dataset was), in that order.
        stft: the STFT the spectrograms were computed with.
        stems: the stored stems, the mixture first.
        sources: the sources, in condition order.
        extra: a multi-stem layout's own fields (empty for MUSDB18, whose stores keep their bytes).
        body: splits, tracks, too_short, mixture_not_sum, indexes and conditions, in that order.
    """
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "music",
        **head,
        "sample_rate": stft.sample_rate,
        "channels": 1,
        "stft": stft_record(stft, True),
        "stems": stems,
        "sources": sources,
        **extra,
        **body,
    }
    parse(manifest, "the manifest being written")  # the reader's contract holds for what the writer writes
    return manifest


def singing_manifest(head: dict, stft, rate: int, fps: int, samples_per_frame: float, body: dict) -> dict:
    """A singing store's manifest.

    Args:
        head: cunet_version, config and source, in that order.
        stft: the Y-Net's STFT.
        rate, fps, samples_per_frame: the audio rate, the video frame rate and their ratio.
        body: tracks, accompaniment, accompaniment_for_split, too_short and indexes, in that order.
    """
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "singing",
        **head,
        "sample_rate": rate,
        "fps": fps,
        "samples_per_frame": samples_per_frame,
        "stft": stft_record(stft, False),
        **body,
    }
    parse(manifest, "the manifest being written")
    return manifest
