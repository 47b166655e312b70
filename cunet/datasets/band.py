"""The synthetic band behind the singer: drum patterns, a bass line and chords, all in one key and tempo."""

from __future__ import annotations

import dataclasses

import numpy as np

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Progressions as scale degrees (0-based), one chord a bar.
KICK_PATTERNS = ((0, 8), (0, 6, 8), (0, 8, 10), (0, 3, 8, 11))
PROGRESSIONS = ([0, 4, 5, 3], [0, 5, 3, 4], [5, 3, 0, 4], [0, 3, 4, 3], [0, 0, 3, 4], [5, 4, 3, 4])


@dataclasses.dataclass(frozen=True)
class Song:
    """What every part of one song agrees on."""

    key: int  # MIDI number of the tonic, in the bass octave
    mode: np.ndarray  # scale intervals
    tempo: float  # beats per minute, 4/4
    progression: list[int]
    seconds: float

    @staticmethod
    def random(rng: np.random.Generator, seconds: float) -> "Song":
        return Song(key=int(rng.integers(28, 40)), mode=MAJOR if rng.random() < 0.6 else MINOR,
                    tempo=float(rng.uniform(80, 140)), progression=list(PROGRESSIONS[rng.integers(len(PROGRESSIONS))]),
                    seconds=seconds)

    @property
    def bar(self) -> float:
        return 4 * 60.0 / self.tempo

    def scale(self, low: int = 24, high: int = 96) -> np.ndarray:
        notes = np.arange(low, high)
        return notes[np.isin((notes - self.key) % 12, self.mode)]

    def chord(self, bar_index: int) -> np.ndarray:
        """Root, third and fifth (MIDI, bass octave) of the chord of a bar."""
        degree = self.progression[bar_index % len(self.progression)]
        steps = [self.mode[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
        return self.key + np.array(steps)


def _midi_hz(m):
    return 440.0 * 2 ** ((np.asarray(m, dtype=float) - 69) / 12)


def _place(out: np.ndarray, start: int, sound: np.ndarray) -> None:
    seg = out[..., start: start + sound.shape[-1]]
    seg += sound[..., : seg.shape[-1]]


def drums(song: Song, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Kick, snare and hi-hat on a 16th grid; returns (2, samples), hats panned off centre."""
    n = int(round(song.seconds * sample_rate))
    out = np.zeros((2, n))
    step = song.bar / 16
    kick_pat = KICK_PATTERNS[rng.integers(len(KICK_PATTERNS))]
    hat_every = int(rng.choice([2, 4]))
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-t / 0.03)) / sample_rate) * np.exp(-t / 0.18)
    snare_tone = np.sin(2 * np.pi * rng.uniform(170, 220) * t) * np.exp(-t / 0.05)
    hat_len = int(0.06 * sample_rate)
    pan = rng.uniform(0.2, 0.4)
    for i in range(int(song.seconds / step)):
        start, pos, vel = int(i * step * sample_rate), i % 16, rng.uniform(0.8, 1.0)
        if pos in kick_pat:
            _place(out, start, vel * kick[None].repeat(2, 0))
        if pos in (4, 12):
            snare = snare_tone * 0.5 + np.diff(rng.standard_normal(len(t) + 1)) * 0.25 * np.exp(-t / 0.09)
            _place(out, start, vel * 0.8 * snare[None].repeat(2, 0))
        if pos % hat_every == 0:
            hat = np.diff(np.diff(rng.standard_normal(hat_len + 2))) * 0.08 * np.exp(-t[:hat_len] / 0.015)
            _place(out, start, vel * np.stack([hat * (1 - pan), hat * (1 + pan)]))
    return out


def _tone(freq: float, seconds: float, sample_rate: int, harmonics: int, decay: float, attack: float) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    k = np.arange(1, harmonics + 1)[:, None]
    k = k[(k[:, 0] * freq) < 0.45 * sample_rate]
    wave = (np.sin(2 * np.pi * freq * k * t) / k ** 1.3).sum(0)
    env = np.clip(t / attack, 0, 1) * np.exp(-t / decay) * np.clip((seconds - t) / 0.02, 0, 1)
    return wave * env


def bass(song: Song, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Chord roots (and fifths) in eighths or quarters, plucked; (2, samples), centred."""
    n = int(round(song.seconds * sample_rate))
    out = np.zeros(n)
    beat = song.bar / 4
    per_beat = int(rng.choice([1, 2]))
    for b in range(int(song.seconds / beat) * per_beat):
        t0 = b * beat / per_beat
        root, _, fifth = song.chord(int(t0 / song.bar))
        note = fifth if (b % (4 * per_beat)) == 3 * per_beat and rng.random() < 0.5 else root
        _place(out, int(t0 * sample_rate), _tone(_midi_hz(note), beat / per_beat * 0.95, sample_rate, 8, 0.35, 0.005))
    return np.stack([out, out])


def chords(song: Song, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Sustained chords an octave or two above the bass, plus a plucked arpeggio; (2, samples), wide."""
    n = int(round(song.seconds * sample_rate))
    out = np.zeros((2, n))
    arp_rate = int(rng.choice([4, 8]))
    for bar in range(int(np.ceil(song.seconds / song.bar))):
        start = int(bar * song.bar * sample_rate)
        notes = song.chord(bar) + 24
        for j, note in enumerate(notes):
            pad = _tone(_midi_hz(note), song.bar, sample_rate, 6, 2.5, 0.15) * 0.35
            pan = (j - 1) * 0.5
            _place(out, start, np.stack([pad * (1 - pan), pad * (1 + pan)]))
        for a in range(arp_rate):
            note = notes[a % 3] + 12 * (a // 3 % 2) + 12
            pluck = _tone(_midi_hz(note), song.bar / arp_rate, sample_rate, 5, 0.12, 0.003) * 0.3
            pan = rng.uniform(-0.6, 0.6)
            _place(out, start + int(a * song.bar / arp_rate * sample_rate), np.stack([pluck * (1 - pan), pluck * (1 + pan)]))
    return out
