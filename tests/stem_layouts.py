"""Small generated folders of the three multi-stem layouts (MoisesDB, Slakh2100, stem folders), for the
tests of stores, training and separation with any set of sources.

Each stem is a tone of its own pitch and a little noise, so that sources differ in their spectra (what a
conditioned model can tell apart) and every stem's array in a store can be checked against its file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cunet import audio

SIX = ("vocals", "drums", "bass", "guitar", "piano", "other")
FULL = {"vocals": 1, "drums": 1, "bass": 1, "guitar": 1, "piano": 1, "other": 2}  # stem: files (MoisesDB)
RATE = 22050
SECONDS = 3.0
# A pitch per stem name: distinct partials, so each source has a place of its own in the spectrum.
PITCH = {
    "vocals": 440.0,
    "drums": 90.0,
    "bass": 55.0,
    "guitar": 196.0,
    "piano": 1046.5,
    "other": 311.1,
    "organ": 740.0,
    "strings": 587.3,
}


def tone(stem: str, seed: int, seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """(1, samples) float32: the stem's tone with two partials and some noise, its level seeded."""
    rng = np.random.default_rng([seed, sum(map(ord, stem))])
    t = np.arange(int(round(seconds * rate))) / rate
    f = PITCH.get(stem, 150.0 + 37.0 * (sum(map(ord, stem)) % 20))
    x = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2 * f * t) + 0.05 * rng.standard_normal(len(t))
    return (rng.uniform(0.05, 0.2) * x)[None].astype(np.float32)


def _write(path: Path, x: np.ndarray) -> np.ndarray:
    audio.write(path, x, RATE, "FLOAT" if path.suffix == ".wav" else None)
    return audio.read(path)[0]


def moisesdb(root: Path, songs: dict[str, dict[str, int]], provider: str = "prov") -> Path:
    """``songs``: {track id: {stemName: number of files}}; the files of a stem are tones of one pitch."""
    for n, (song, stems) in enumerate(songs.items()):
        folder, entries = root / provider / song, []
        for stem, files in stems.items():
            tracks = []
            for k in range(files):
                _write(folder / stem / f"{stem}{k}.wav", tone(stem, 10 * n + k))
                tracks.append({"trackType": stem, "id": f"{stem}{k}", "extension": "wav", "has_bleed": False})
            entries.append({"stemName": stem, "id": f"{stem}-{song}", "tracks": tracks})
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data.json").write_text(json.dumps({"artist": "A", "song": song, "genre": "Pop", "stems": entries}))
    return root


def folders(root: Path, songs: dict[str, tuple[str, ...]], test: tuple[str, ...] = (), mixture: bool = True) -> Path:
    """``ROOT/{train,test}/<song>/<stem>.wav``, with ``mixture.wav`` the sum of the stems when asked for."""
    for n, (song, stems) in enumerate(songs.items()):
        folder = root / ("test" if song in test else "train") / song
        parts = [_write(folder / f"{stem}.wav", tone(stem, n)) for stem in stems]
        if mixture:
            _write(folder / "mixture.wav", sum(parts))
    return root


def slakh(root: Path, songs: dict[str, dict[str, str]]) -> Path:
    """``songs``: {"train/Track00001": {stem id: inst_class}}; FLAC stems and their mix."""
    for n, (song, stems) in enumerate(songs.items()):
        folder = root / song
        parts = [_write(folder / "stems" / f"{sid}.flac", tone(cls.lower(), n)) for sid, cls in stems.items()]
        _write(folder / "mix.flac", sum(parts))
        (folder / "metadata.yaml").write_text(
            "audio_dir: stems\nstems:\n"
            + "".join(
                f"  {sid}:\n    inst_class: {cls}\n    program_num: 0\n    is_drum: false\n    audio_rendered: true\n"
                for sid, cls in stems.items()
            )
        )
    return root
