"""The store's format: its name and version, the fields each part of ``manifest.json`` has, and the two
functions that write a manifest (a music store's and a singing store's).

The dataclasses below are the reading contract: every field they name is what a loader or a check reads, with
its JSON type, and :class:`cunet.store.Store` refuses a manifest lacking one, naming the key and where it is.
A manifest holds more than they name (the preprocessing config, where the dataset was, warnings), written by
:func:`music_manifest` and :func:`singing_manifest` in an order that keeps a MUSDB18 store's bytes what every
earlier version wrote.
"""

from __future__ import annotations

import dataclasses
import functools
import typing

FORMAT, VERSION = "cunet-store", 1
Number = float  # in a record: an integer or a float (JSON does not tell them apart)


@dataclasses.dataclass(frozen=True)
class Track:
    """A track of any store: its name, folder (relative to the store), split and STFT (or video) frames."""

    name: str
    folder: str
    split: str
    n_frames: int


@dataclasses.dataclass(frozen=True)
class MusicTrack(Track):
    """A music track: ``stem_max_magnitude`` maps each stem to its largest STFT magnitude (``mixture``'s is the
    training scale)."""

    stem_max_magnitude: dict


@dataclasses.dataclass(frozen=True)
class SingingTrack(Track):
    """A singing recording: its audio samples beside its video frames."""

    n_samples: int


@dataclasses.dataclass(frozen=True)
class Index:
    """An index of training (or validation) examples: its ``.npy`` file, the columns of its integer rows and
    how many rows it holds."""

    file: str
    columns: list
    rows: int


@dataclasses.dataclass(frozen=True)
class MusicIndex(Index):
    """Rows of (track, start frame, condition): patches of ``patch_frames`` frames."""

    patch_frames: int


@dataclasses.dataclass(frozen=True)
class SingingIndex(Index):
    """Rows of (track, start frame) of the recordings of ``split``: clips of ``video_frames`` frames and
    ``clip_samples`` samples."""

    split: str
    video_frames: int
    clip_samples: int


@dataclasses.dataclass(frozen=True)
class Clip:
    """An accompaniment clip of a singing store."""

    name: str
    folder: str
    split: str
    n_samples: int


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What every manifest has besides ``format``, ``version`` and ``kind``."""

    tracks: list
    indexes: dict
    stft: dict


@dataclasses.dataclass(frozen=True)
class MusicManifest(Manifest):
    """A music store: its stems (``mixture`` first), the sources a condition selects, and the conditions."""

    stems: list
    sources: list
    conditions: dict


@dataclasses.dataclass(frozen=True)
class SingingManifest(Manifest):
    """A singing store: its accompaniment clips, which accompaniment split feeds each split, and the audio
    samples per video frame."""

    accompaniment: list
    accompaniment_for_split: dict
    samples_per_frame: Number


KINDS = {"music": (MusicManifest, MusicTrack, MusicIndex), "singing": (SingingManifest, SingingTrack, SingingIndex)}


@functools.cache  # read once per record type, not once per track of a store
def fields(record: type) -> dict[str, type | tuple[type, ...]]:
    """The fields of a record dataclass and the JSON types each may hold (a :data:`Number` an int or a float)."""
    hints = typing.get_type_hints(record)
    return {f.name: (int, float) if hints[f.name] is Number else hints[f.name] for f in dataclasses.fields(record)}


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
    return {
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


def singing_manifest(head: dict, stft, rate: int, fps: int, samples_per_frame: float, body: dict) -> dict:
    """A singing store's manifest.

    Args:
        head: cunet_version, config and source, in that order.
        stft: the Y-Net's STFT.
        rate, fps, samples_per_frame: the audio rate, the video frame rate and their ratio.
        body: tracks, accompaniment, accompaniment_for_split, too_short and indexes, in that order.
    """
    return {
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
