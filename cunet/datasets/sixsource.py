"""The embedded six-source set: songs in the MoisesDB layout, vocals, drums, bass, guitar, piano and other.

``ROOT/<provider>/<track id>/data.json`` names every file of the song, ``<stemName>/<file id>.wav`` (44.1 kHz
stereo PCM); there is no mixture file, the mixture being the sum of every file, as in MoisesDB. A stem may hold
several files (a lead and a backing singer, a kit recorded as kick, snare and cymbals, two guitars, two or three
sustained parts in ``other``). In every block of four songs (by index) one has no guitar and another no piano,
which ones drawn from the seed. Everything depends only on (seed, index, seconds).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import audio
from ..fileio import save_json
from . import band, voice
from .instruments import midi_number

RATE = 44100
PROVIDER = "cunet-synth"
STEMS = ("vocals", "drums", "bass", "guitar", "piano", "other")
GENRES = ("Pop", "Rock", "Singer/Songwriter", "Country", "Jazz")
# 2: other's pad and organ an octave higher, above the guitar's register (a tree of version 1 is regenerated)
VERSION = 2
OTHER_TYPES = {"pad": "synth_pad", "organ": "organ_electric_organ", "strings": "string_section"}


@dataclasses.dataclass(frozen=True)
class Part:
    """One file of a song: its stem, its MoisesDB track type and its samples (int16, (2, samples))."""

    stem: str
    track_type: str
    samples: np.ndarray


def lineup(seed: int, index: int) -> tuple[bool, bool]:
    """(has guitar, has piano) of song ``index``: one song of each block of four lacks the guitar, another the
    piano, so even the smallest set has both cases."""
    role = int(np.random.default_rng([seed, 7, index // 4]).permutation(4)[index % 4])
    return role != 0, role != 1


def _vocals(song: band.Song, rng: np.random.Generator, index: int) -> list[tuple[str, np.ndarray, float]]:
    """The lead singer and, in some songs, a backing singer a diatonic third above: (type, (2, n), gain dB)."""
    gender = "Male" if rng.random() < 0.5 else "Female"
    lead = voice.Singer.random(rng, f"six{index}", gender)
    scale = song.scale()
    syl = voice.melody(rng, song.seconds, song.tempo, scale, midi_number(lead.f0))
    pan = rng.uniform(-0.15, 0.15)
    x = voice.sing(lead, syl, song.seconds, RATE, rng)[0].astype(np.float64)
    parts = [(f"lead_{gender.lower()}_singer", np.stack([x * (1 - pan), x * (1 + pan)]), 0.0)]
    if rng.random() < 0.4:
        steps = np.clip(np.searchsorted(scale, syl.pitch) + 2, 0, len(scale) - 1)
        harmony = dataclasses.replace(syl, pitch=scale[steps].astype(float))
        backing = voice.Singer.random(rng, f"six{index}b", gender)
        y = voice.sing(backing, harmony, song.seconds, RATE, rng)[0].astype(np.float64)
        side = rng.choice([-0.5, 0.5])
        parts.append(("background_vocals", np.stack([y * (1 - side), y * (1 + side)]), rng.uniform(-9, -5)))
    return parts


def song_parts(seed: int, index: int, seconds: float) -> tuple[dict, list[Part]]:
    """Song ``index``: its data.json fields (artist, song, genre) and its files, scaled together so that their
    sum peaks at -2 dBFS.

    Args:
        seed: the dataset's seed.
        index: the song's number.
        seconds: its length.

    Returns:
        (metadata dict, parts in stem order).
    """
    rng = np.random.default_rng([seed, 6, index])
    song = band.Song.random(rng, seconds)
    has_guitar, has_piano = lineup(seed, index)
    stems: dict[str, Sequence[tuple[str, np.ndarray, float | None]]] = {"vocals": _vocals(song, rng, index)}
    kit = band.drum_kit(song, RATE, rng)
    stems["drums"] = (
        [(name, x, None) for name, x in kit.items()]
        if rng.random() < 0.5
        # the kit is never empty: sum() is an array there, never the 0 its stub allows
        else [("full_acoustic_drumkit", sum(kit.values()), None)]  # type: ignore[list-item]
    )
    stems["bass"] = [("bass_guitar", band.bass(song, RATE, rng), 0.0)]
    if has_guitar:
        styles = [["strum"], ["pick"], ["strum", "pick"]][rng.integers(3)]
        side = rng.choice([-1.0, 1.0])
        stems["guitar"] = [
            (
                "acoustic_guitar" if style == "strum" else "clean_electric_guitar",
                band.guitar(song, RATE, rng, style, side * (0.3 if k == 0 else -0.4)),
                0.0 if k == 0 else rng.uniform(-5, 0),
            )
            for k, style in enumerate(styles)
        ]
    if has_piano:
        style = ("comp", "broken", "ballad")[rng.integers(3)]
        stems["piano"] = [("grand_piano", band.piano(song, RATE, rng, style), 0.0)]
    kinds = list(rng.permutation(list(OTHER_TYPES)))[: 2 + int(rng.random() < 0.3)]
    stems["other"] = [(OTHER_TYPES[k], band.sustained(song, RATE, rng, k), rng.uniform(-6, 0)) for k in kinds]

    floats: list[tuple[str, str, np.ndarray]] = []
    for stem, sources in stems.items():
        # A part's gain sets its level relative to the stem's other parts (None: as played, a kit's balance);
        # the stem as a whole then gets its own level in the mix.
        scaled = [
            (kind, x if gain is None else x / (np.sqrt(np.mean(x**2)) + 1e-12) * 10 ** (gain / 20))
            for kind, x, gain in sources
        ]
        total = np.sqrt(np.mean(sum(x for _, x in scaled) ** 2)) + 1e-12
        level = 10 ** ((rng.uniform(-4, 2) if stem == "vocals" else rng.uniform(-7, 0)) / 20)
        floats += [(stem, kind, x / total * level) for kind, x in scaled]
    mix_peak = np.abs(sum(x for _, _, x in floats)).max()
    part_peak = max(np.abs(x).max() for _, _, x in floats)
    gain = min(0.8 / max(mix_peak, 1e-9), 0.95 / max(part_peak, 1e-9))
    parts = [Part(stem, kind, np.round(x * gain * 32767).astype(np.int16)) for stem, kind, x in floats]
    meta = {"artist": "Cunet Synth", "song": f"Six Song {index:03d}", "genre": GENRES[rng.integers(len(GENRES))]}
    return meta, parts


def _ids(seed: int, index: int, count: int) -> tuple[str, list[str]]:
    """The track's id and its files' ids: uuid-like strings drawn from (seed, index) alone."""
    rng = np.random.default_rng([seed, 6, index, 1])
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(count + 1)]
    return ids[0], ids[1:]


def write_song(root: Path, seed: int, index: int, seconds: float) -> Path:
    """Write song ``index`` under ``root/<provider>/<track id>/`` (its data.json and one wav a part).

    Args:
        root: the set's folder (``<out>/moisesdb``).
        seed, index, seconds: as :func:`song_parts`.

    Returns:
        the song's folder.
    """
    meta, parts = song_parts(seed, index, seconds)
    track_id, file_ids = _ids(seed, index, len(parts))
    folder = Path(root) / PROVIDER / track_id
    stems = []
    for stem in STEMS:
        tracks = []
        for part, file_id in zip(parts, file_ids):
            if part.stem == stem:
                audio.write(folder / stem / f"{file_id}.wav", part.samples, RATE, "PCM_16")
                tracks.append({"trackType": part.track_type, "id": file_id, "extension": "wav", "has_bleed": False})
        if tracks:
            stems.append({"stemName": stem, "tracks": tracks})
    save_json(folder / "data.json", {**meta, "id": track_id, "stems": stems})
    return folder
