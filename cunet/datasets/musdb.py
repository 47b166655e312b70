"""MUSDB18 on disk: the MUSDB18-HQ folder layout, and ``.stem.mp4`` files through the ``musdb`` package.

Layout (MUSDB18-HQ)::

    ROOT/train/<track>/{mixture,vocals,drums,bass,other}.wav     44.1 kHz stereo PCM
    ROOT/test/<track>/...

Layout (MUSDB18, compressed)::

    ROOT/{train,test}/<track>.stem.mp4                              5 AAC streams, read with ffmpeg

A track belongs to one split: ``test`` (the test folder), ``valid`` (held out of the train folder)
or ``train``. Nothing in ``valid`` is ever used for training or augmentation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError
from . import checks

STEMS = ("mixture", "vocals", "drums", "bass", "other")
# Order of the condition vector, as in the original C-U-Net ("other" is its "rest").
SOURCES = ("bass", "drums", "other", "vocals")
SUBSETS = ("train", "test")

# The official MUSDB18 validation tracks (the `musdb` package's setup), held out of the train folder.
MUSDB_VALIDATION = (
    "Actions - One Minute Smile",
    "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies",
    "Patrick Talbot - A Reason To Leave",
    "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero",
    "Fergessen - Nos Palpitants",
    "Leaf - Summerghost",
    "Skelpolu - Human Mistakes",
    "Young Griffo - Pennies",
    "ANiMAL - Rockshow",
    "James May - On The Line",
    "Meaxic - Take A Step",
    "Traffic Experiment - Sirens",
)


@dataclasses.dataclass(frozen=True)
class MusicTrack:
    """One song: its stems on disk and the split it belongs to."""

    name: str
    subset: str
    split: str
    path: Path  # the track folder (HQ) or the .stem.mp4 file

    @property
    def is_stem_mp4(self) -> bool:
        return self.path.name.endswith(".stem.mp4")

    def stem_path(self, stem: str) -> Path:
        return self.path if self.is_stem_mp4 else self.path / f"{stem}.wav"

    def check(self, min_seconds: float = 0.0) -> int:
        """Validate the track from its headers alone; return its length in samples.

        Every stem must share the mixture's sample rate and length (the stems are the mixture's parts);
        the one that does not is named. ``min_seconds``: the shortest track the caller can use."""
        if self.is_stem_mp4:
            return 0  # the container's streams share one clock; decoded lengths are checked on load
        headers = {}
        for stem in STEMS:
            path = self.stem_path(stem)
            try:
                headers[stem] = checks.header(path)
            except FileNotFoundError:
                raise InputError(path, f"missing stem {stem!r} of track {self.name!r}") from None
        mix = headers["mixture"]
        for stem, meta in headers.items():
            if meta.samplerate != mix.samplerate:
                raise InputError(
                    self.stem_path(stem),
                    f"sample rate {meta.samplerate} Hz, but the mixture of track {self.name!r} has {mix.samplerate} Hz",
                )
        for stem, meta in headers.items():
            if meta.frames != mix.frames:
                detail = ", ".join(f"{s} {m.frames}" for s, m in headers.items())
                raise InputError(
                    self.stem_path(stem),
                    f"stems differ in length: {meta.frames} samples, the mixture {mix.frames} (samples: {detail})",
                )
        checks.require_duration(self.stem_path("mixture"), mix.frames, mix.samplerate, min_seconds, "a track")
        return mix.frames

    def load(self, sample_rate: int, channels: int) -> dict[str, np.ndarray]:
        """All stems as float32 (channels, samples) at ``sample_rate``."""
        stems = _load_stem_mp4(self) if self.is_stem_mp4 else {}
        out = {}
        for stem in STEMS:
            if self.is_stem_mp4:
                x, rate = stems[stem]
                x = audio.resample(audio.remix_channels(x, channels, self.path), rate, sample_rate)
                checks.refuse_non_finite(x, self.path, sample_rate, native=False)
            else:
                x = checks.read(self.stem_path(stem), sample_rate, channels)
            out[stem] = x
        if len({x.shape[-1] for x in out.values()}) > 1:
            raise InputError(self.path, "stems differ in length after decoding")
        return out


def _load_stem_mp4(track: MusicTrack) -> dict[str, tuple[np.ndarray, int]]:
    try:
        import musdb
    except ImportError:
        raise InputError(
            track.path,
            "reading .stem.mp4 needs the optional 'musdb' extra and ffmpeg "
            "(pip install 'cunet[musdb]'); or convert to MUSDB18-HQ wav folders",
        ) from None
    try:
        db = musdb.DB(root=str(track.path.parent.parent), subsets=[track.subset], is_wav=False)
        [mt] = [t for t in db.tracks if t.name == track.name]
        stems, rate = mt.stems, mt.rate
    except Exception as err:  # musdb/stempeg raise many types for a bad container
        raise InputError(track.path, f"unreadable .stem.mp4 ({err})") from None
    ids = db.setup["stem_ids"]
    return {s: (np.ascontiguousarray(stems[ids[s]].T, dtype=np.float32), int(rate)) for s in STEMS}


def _tracks_in(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for entry in sorted(folder.iterdir()):
        # The name goes into the manifest and messages; the path keeps the folder's own bytes.
        if entry.is_dir() and not entry.name.startswith("."):
            found.append((checks.printable(entry.name), entry))
        elif entry.name.endswith(".stem.mp4"):
            found.append((checks.printable(entry.name[: -len(".stem.mp4")]), entry))
    return found


def choose_validation(
    train_names: list[str], valid_tracks: list[str] | None, valid_fraction: float, seed: int
) -> tuple[list[str], str]:
    """The held-out tracks, and how they were chosen (recorded in the manifest)."""
    if valid_tracks:
        valid_tracks = [checks.printable(n) for n in valid_tracks]  # as the track names are made
        unknown = sorted(set(valid_tracks) - set(train_names))
        if unknown:
            raise InputError(None, f"--valid-tracks names tracks not in the train folder: {unknown}")
        return sorted(valid_tracks), "given"
    official = [n for n in train_names if n in MUSDB_VALIDATION]
    if official:
        return official, "musdb18-official"
    if len(train_names) < 2 or valid_fraction <= 0:
        return [], "none"
    count = max(1, round(valid_fraction * len(train_names)))
    picked = np.random.default_rng(seed).choice(len(train_names), size=count, replace=False)
    return sorted(train_names[i] for i in picked), f"seeded-fraction-{valid_fraction}"


def scan(
    root: str | Path, valid_tracks: list[str] | None = None, valid_fraction: float = 0.15, seed: int = 0
) -> tuple[list[MusicTrack], dict]:
    """List the tracks under ``root`` with their splits; raise :class:`InputError` on a mis-laid folder."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    missing = [s for s in SUBSETS if not (root / s).is_dir()]
    if missing:
        hint = ""
        if (root / "mixture.wav").exists() or any((p / "mixture.wav").exists() for p in root.iterdir() if p.is_dir()):
            hint = "; it looks like a subset or track folder: pass the folder that holds train/ and test/"
        raise InputError(root, f"not a MUSDB18 layout: missing {', '.join(s + '/' for s in missing)}{hint}")
    listed = {s: _tracks_in(root / s) for s in SUBSETS}
    for subset, entries in listed.items():
        if not entries:
            raise InputError(root / subset, "no tracks found (expected <track>/mixture.wav or <track>.stem.mp4)")
    train_names = [name for name, _ in listed["train"]]
    valid, how = choose_validation(train_names, valid_tracks, valid_fraction, seed)
    tracks = []
    for subset, entries in listed.items():
        for name, path in entries:
            split = "test" if subset == "test" else ("valid" if name in valid else "train")
            tracks.append(MusicTrack(name=name, subset=subset, split=split, path=path))
    return tracks, {"valid_tracks": valid, "valid_chosen_by": how}
