"""The synthetic band behind the singer: drum patterns, a bass line and chords, all in one key and tempo; for the
six-source set also a drum kit in separate pieces, guitars, a piano and the sustained parts that stay in ``other``
(the instruments themselves are in ``instruments.py``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from . import instruments

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
    def random(rng: np.random.Generator, seconds: float) -> Song:
        return Song(
            key=int(rng.integers(28, 40)),
            mode=MAJOR if rng.random() < 0.6 else MINOR,
            tempo=float(rng.uniform(80, 140)),
            progression=list(PROGRESSIONS[rng.integers(len(PROGRESSIONS))]),
            seconds=seconds,
        )

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
    seg = out[..., start : start + sound.shape[-1]]
    seg += sound[..., : seg.shape[-1]]


def drums(song: Song, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Kick, snare and hi-hat on a 16th grid; returns (2, samples), hats panned off centre."""
    n = int(round(song.seconds * sample_rate))
    out = np.zeros((2, n))
    step = song.bar / 16
    kick_pat = KICK_PATTERNS[rng.integers(len(KICK_PATTERNS))]
    hat_every = int(rng.choice([2, 4]))
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    kick = _kick(t, sample_rate)
    snare_tone = np.sin(2 * np.pi * rng.uniform(170, 220) * t) * np.exp(-t / 0.05)
    hat_len = int(0.06 * sample_rate)
    pan = rng.uniform(0.2, 0.4)
    for i in range(int(song.seconds / step)):
        start, pos, vel = int(i * step * sample_rate), i % 16, rng.uniform(0.8, 1.0)
        if pos in kick_pat:
            _place(out, start, vel * kick[None].repeat(2, 0))
        if pos in (4, 12):
            _place(out, start, vel * 0.8 * _snare(snare_tone, t, rng)[None].repeat(2, 0))
        if pos % hat_every == 0:
            hat = _hat(t, hat_len, rng)
            _place(out, start, vel * np.stack([hat * (1 - pan), hat * (1 + pan)]))
    return out


def _kick(t: np.ndarray, sample_rate: int) -> np.ndarray:
    return np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-t / 0.03)) / sample_rate) * np.exp(-t / 0.18)


def _snare(tone: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return tone * 0.5 + np.diff(rng.standard_normal(len(t) + 1)) * 0.25 * np.exp(-t / 0.09)


def _hat(t: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    return np.diff(np.diff(rng.standard_normal(length + 2))) * 0.08 * np.exp(-t[:length] / 0.015)


def drum_kit(song: Song, sample_rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The six-source set's drummer: :func:`drums`' grid and sounds plus a crash every fourth bar and ghost
    snares, kept apart as a multitrack session would (each (2, samples)).

    Returns:
        {"kick_drum": ..., "snare_drum": ..., "cymbals": ...}, MoisesDB's track types.
    """
    n = int(round(song.seconds * sample_rate))
    parts = {name: np.zeros((2, n)) for name in ("kick_drum", "snare_drum", "cymbals")}
    step = song.bar / 16
    kick_pat = KICK_PATTERNS[rng.integers(len(KICK_PATTERNS))]
    hat_every = int(rng.choice([2, 4]))
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    kick = _kick(t, sample_rate)[None].repeat(2, 0)
    snare_tone = np.sin(2 * np.pi * rng.uniform(170, 220) * t) * np.exp(-t / 0.05)
    hat_len = int(0.06 * sample_rate)
    pan = rng.uniform(0.2, 0.4)
    tc = np.arange(int(1.5 * sample_rate)) / sample_rate
    crash = np.diff(rng.standard_normal(len(tc) + 1)) * 0.12 * np.exp(-tc / 0.5)
    for i in range(int(song.seconds / step)):
        start, pos, vel = int(i * step * sample_rate), i % 16, rng.uniform(0.8, 1.0)
        if pos in kick_pat:
            _place(parts["kick_drum"], start, vel * kick)
        if pos in (4, 12) or (pos in (7, 14) and rng.random() < 0.25):
            ghost = 1.0 if pos in (4, 12) else 0.3
            _place(parts["snare_drum"], start, ghost * vel * 0.8 * _snare(snare_tone, t, rng)[None].repeat(2, 0))
        if pos % hat_every == 0:
            hat = _hat(t, hat_len, rng)
            _place(parts["cymbals"], start, vel * np.stack([hat * (1 - pan), hat * (1 + pan)]))
        if i % 64 == 0:
            _place(parts["cymbals"], start, vel * np.stack([crash * (1 + pan), crash * (1 - pan)]))
    return parts


def _tone(freq: float, seconds: float, sample_rate: int, harmonics: int, decay: float, attack: float) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    k = np.arange(1, harmonics + 1)[:, None]
    k = k[(k[:, 0] * freq) < 0.45 * sample_rate]
    wave = (np.sin(2 * np.pi * freq * k * t) / k**1.3).sum(0)
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
            _place(
                out,
                start + int(a * song.bar / arp_rate * sample_rate),
                np.stack([pluck * (1 - pan), pluck * (1 + pan)]),
            )
    return out


# The six-source set's players: each part follows the song's chords in its instrument's register.
STRUMS = ("D.DU.UDU", "D.D.DUDU", "D..UD.DU", "D.DUD.DU")  # a bar of eighths: Down, Up or rest
PICKS = ((0, 2, 3, 4, 5, 4, 3, 2), (0, 3, 4, 5, 1, 3, 4, 5), (1, 3, 2, 4, 3, 5, 4, 3))  # strings, low = 0
GUITAR_LOW = instruments.GUITAR_RANGE[0]
PAD_LOW, ORGAN_LOW = 67, 64  # G4, E4: the lowest notes of other's pad and organ chords
COMPS = ((0, 2, 4, 6), (0, 3, 4, 7), (0, 2, 3, 5, 6))  # the piano's right-hand hits, in eighths


class _Notes:
    """Renders each distinct (note, length) once: a song plays the same few chords bar after bar."""

    def __init__(self, play, sample_rate: int, **style):
        self.play, self.rate, self.style = play, sample_rate, style
        self.cache: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, midi: int, held: float) -> np.ndarray:
        key = (int(midi), int(round(held * self.rate)))
        if key not in self.cache:
            self.cache[key] = self.play(key[0], key[1] / self.rate, self.rate, **self.style)
        return self.cache[key]


def _put(out: np.ndarray, seconds: float, sound: np.ndarray, pan: float, sample_rate: int) -> None:
    _place(out, int(round(seconds * sample_rate)), np.stack([sound * (1 - pan), sound * (1 + pan)]))


def guitar_voicing(chord: np.ndarray) -> np.ndarray:
    """Six strings of a barre chord in E shape: root (E2..D#3), fifth, octave, third, fifth, double octave."""
    root = GUITAR_LOW + (int(chord[0]) - GUITAR_LOW) % 12
    third, fifth = int(chord[1] - chord[0]), int(chord[2] - chord[0])
    return root + np.array([0, fifth, 12, 12 + third, 12 + fifth, 24])


def close_voicing(chord: np.ndarray, low: int) -> np.ndarray:
    """The chord's three pitch classes in the octave from ``low`` up, ascending."""
    return np.sort(low + (np.asarray(chord) - low) % 12)


def guitar(song: Song, sample_rate: int, rng: np.random.Generator, style: str, pan: float) -> np.ndarray:
    """A guitar part in E2..E5 on the song's chords; (2, samples).

    Args:
        song, sample_rate, rng: as the other parts.
        style: "strum" (an acoustic strumming eighths, strings struck one after another, up-strokes catching
            the top four) or "pick" (a clean electric picking the chord's strings, each left ringing).
        pan: -1 (left) .. 1 (right).
    """
    out = np.zeros((2, int(round(song.seconds * sample_rate))))
    step = song.bar / 8
    if style == "strum":
        notes = _Notes(instruments.guitar_note, sample_rate, pluck=float(rng.uniform(0.11, 0.2)))
        pattern = STRUMS[rng.integers(len(STRUMS))]
        spread = float(rng.uniform(0.006, 0.015))  # seconds from one string to the next
        hits = [i for i, c in enumerate(pattern) if c != "."]
        for bar in range(int(np.ceil(song.seconds / song.bar))):
            strings = guitar_voicing(song.chord(bar))
            for j, i in enumerate(hits):
                down = pattern[i] == "D"
                held = ((hits + [8])[j + 1] - i) * step  # rings until the next stroke
                vel = rng.uniform(0.8, 1.0) if down else rng.uniform(0.45, 0.65)
                for s, note in enumerate(strings if down else strings[::-1][:4]):
                    when = bar * song.bar + i * step + s * spread * rng.uniform(0.7, 1.3)
                    _put(out, when, vel * notes(note, held), pan, sample_rate)
    else:
        notes = _Notes(instruments.guitar_note, sample_rate, pluck=float(rng.uniform(0.22, 0.3)), bright=0.4)
        picks = PICKS[rng.integers(len(PICKS))]
        for i in range(int(np.ceil(song.seconds / step))):
            note = guitar_voicing(song.chord(int(i * step / song.bar)))[picks[i % 8]]
            _put(out, i * step, rng.uniform(0.7, 1.0) * notes(note, 2 * step), pan, sample_rate)
    return out


def piano(song: Song, sample_rate: int, rng: np.random.Generator, style: str) -> np.ndarray:
    """A piano part over four octaves: the left hand's roots in C2..B3, the right hand's chords from about C4
    up; the low notes lean left, the high ones right, as a grand is recorded. (2, samples)

    Args:
        song, sample_rate, rng: as the other parts.
        style: "comp" (rhythmic right-hand chords over left-hand octaves on beats 1 and 3), "broken" (an
            eighth-note arpeggio over two octaves, each note held by the pedal) or "ballad" (whole-bar chords in
            both hands, the right hand struck again on beat 3).
    """
    out = np.zeros((2, int(round(song.seconds * sample_rate))))
    notes = _Notes(instruments.piano_note, sample_rate, velocity=float(rng.uniform(0.55, 0.9)))
    step = song.bar / 8
    high = int(rng.integers(59, 65))
    comp = COMPS[rng.integers(len(COMPS))]

    def play(note: int, when: float, held: float, vel: float) -> None:
        _put(out, when, vel * notes(note, held), float(np.clip((note - 60) / 40, -0.4, 0.4)), sample_rate)

    for bar in range(int(np.ceil(song.seconds / song.bar))):
        chord, t0 = song.chord(bar), bar * song.bar
        root = 36 + (int(chord[0]) - 36) % 12
        right = close_voicing(chord, high)
        if style == "comp":
            for beat in (0, 4):
                for note in (root, root + 12):
                    play(note, t0 + beat * step, 3.8 * step, rng.uniform(0.7, 0.9))
            hits = list(comp) + [8]
            for j, i in enumerate(hits[:-1]):
                for note in right:
                    play(note, t0 + i * step, (hits[j + 1] - i) * step * 0.9, rng.uniform(0.6, 0.85))
        elif style == "broken":
            play(root, t0, 7.8 * step, 0.9)
            run = np.concatenate([right - 12, right, right + 12])[[0, 1, 2, 3, 4, 5, 4, 3]]
            for i, note in enumerate(run):
                play(note, t0 + i * step, 3 * step, rng.uniform(0.55, 0.8))
        else:
            for note in (root, root + int(chord[2] - chord[0]), root + 12):
                play(note, t0, 7.8 * step, 0.8)
            for beat, held in ((0, 7.8), (4, 3.8)):
                for note in right:
                    play(note, t0 + beat * step, held * step, rng.uniform(0.6, 0.8) * (0.7 if beat else 1.0))
    return out


def sustained(song: Song, sample_rate: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """What stays in ``other``: a "pad", an "organ" or a "strings" section holding the chords; (2, samples).

    Args:
        song, sample_rate, rng: as the other parts.
        kind: "pad" (close chords from G4 up, swelling each bar), "organ" (half-bar chords from E4 up, the lowest
            note doubled an octave higher) or "strings" (cellos on the root, violins from G4 up).
    """
    # Pad and organ sit an octave above the guitar's strummed body (E2..E4) so that ``other`` differs from the
    # guitar in register as well as timbre, as in a band's arrangement; only the cellos share its low strings.
    out = np.zeros((2, int(round(song.seconds * sample_rate))))
    play = {"pad": instruments.pad_note, "organ": instruments.organ_note, "strings": instruments.strings_note}[kind]
    notes = _Notes(play, sample_rate)
    width = float(rng.uniform(0.3, 0.7))
    for bar in range(int(np.ceil(song.seconds / song.bar))):
        chord, t0 = song.chord(bar), bar * song.bar
        if kind == "pad":
            voices = [(note, t0, song.bar * 0.95) for note in close_voicing(chord, PAD_LOW)]
        elif kind == "organ":
            voices = [
                (note, t0 + half * song.bar / 2, song.bar * 0.47)
                for half in (0, 1)
                for note in [*close_voicing(chord, ORGAN_LOW), close_voicing(chord, ORGAN_LOW)[0] + 12]
            ]
        else:
            cello = 48 + (int(chord[0]) - 48) % 12
            voices = [(n, t0, song.bar * 0.97) for n in [cello, *close_voicing(chord, 67)]]
        for j, (note, when, held) in enumerate(voices):
            _put(out, when, notes(int(note), held), width * ((j % 3) - 1), sample_rate)
    return out
