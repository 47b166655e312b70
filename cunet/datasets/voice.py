"""A synthetic singer: a glottal source through moving vowel formants, with vibrato and consonants.

The same syllable plan drives the sound and (in ``face.py``) the mouth, so the two stay coupled the
way a real singer's are: the mouth opens with each sung vowel and closes in rests and on bilabials.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import lfilter

# Formants F1-F3 (Hz) of an adult vocal tract, and the mouth shape of each vowel (opening, width in 0..1).
VOWELS = {
    "a": ((730, 1090, 2440), (1.00, 0.80)),
    "e": ((530, 1840, 2480), (0.65, 0.90)),
    "i": ((300, 2250, 3000), (0.35, 1.00)),
    "o": ((570, 840, 2410), (0.75, 0.50)),
    "u": ((320, 870, 2240), (0.40, 0.35)),
}
VOWEL_NAMES = tuple(VOWELS)
# Consonant kinds before a vowel: none, plosive burst, fricative hiss, nasal hum (lips closed for m/b/p).
CONSONANTS = ("none", "plosive", "fricative", "nasal")
CONTROL_RATE = 400  # Hz: controls are smooth, the harmonics are computed at audio rate


@dataclasses.dataclass(frozen=True)
class Singer:
    """A voice identity: what makes two synthetic singers sound different."""

    name: str
    gender: str  # "Male" / "Female", as the Acappella folders
    f0: float  # centre of the tessitura, Hz
    tract: float  # formant scaling (shorter tract -> higher formants)
    vibrato_rate: float  # Hz
    vibrato_depth: float  # semitones
    breath: float  # aspiration noise level relative to the voiced part
    tilt: float  # source roll-off, dB per octave
    formant_shift: tuple[float, float, float]  # personal deviation of F1-F3 from the average vowel
    ring_hz: float  # an extra resonance (the "singer's formant") ...
    ring_gain: float  # ... and its strength

    @staticmethod
    def random(rng: np.random.Generator, name: str, gender: str, f0: float | None = None) -> Singer:
        male = gender == "Male"
        if f0 is None:
            f0 = rng.uniform(110, 190) if male else rng.uniform(200, 360)
        return Singer(
            name=name,
            gender=gender,
            f0=float(f0),
            tract=float(rng.uniform(0.9, 1.05) if male else rng.uniform(1.08, 1.25)),
            vibrato_rate=float(rng.uniform(4.5, 6.8)),
            vibrato_depth=float(rng.uniform(0.15, 0.6)),
            breath=float(rng.uniform(0.01, 0.2)),
            tilt=float(rng.uniform(-16, -6)),
            formant_shift=tuple(rng.uniform(0.85, 1.15, 3).tolist()),
            ring_hz=float(rng.uniform(2300, 3700)),
            ring_gain=float(rng.uniform(0.0, 3.0)),
        )


@dataclasses.dataclass(frozen=True)
class Syllables:
    """One sung syllable per note: consonant onset then a vowel. Times in seconds, pitch in MIDI."""

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    vowel: np.ndarray  # index into VOWEL_NAMES
    consonant: np.ndarray  # index into CONSONANTS
    level: np.ndarray  # 0..1


def melody(rng: np.random.Generator, seconds: float, tempo: float, scale: np.ndarray, centre: float) -> Syllables:
    """Phrases of 1-3 bars of notes in ``scale`` (MIDI numbers) near ``centre``, separated by rests."""
    beat = 60.0 / tempo
    # Start anywhere in a phrase, possibly before the clip: clips must not share a silent lead-in.
    rows: list[tuple] = []
    t = -float(rng.uniform(0.0, 6.0)) * beat
    candidates = scale[np.abs(scale - centre) <= 5]
    while t < seconds:
        phrase_end = t + beat * int(rng.choice([2, 4, 4, 6, 8]))
        idx = int(np.argmin(np.abs(candidates - centre)))
        while t < min(phrase_end, seconds):
            length = beat * float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
            idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(candidates) - 1))
            rows.append(
                (
                    t,
                    min(length * 0.85, seconds - t),
                    candidates[idx],
                    rng.integers(len(VOWELS)),
                    rng.choice(len(CONSONANTS), p=[0.3, 0.3, 0.2, 0.2]),
                    rng.uniform(0.6, 1.0),
                )
            )
            t += length
        t += beat * float(rng.choice([0.5, 1.0, 1.5, 2.0, 3.0]))
    rows = [(max(0.0, on), dur + min(0.0, on), *rest) for on, dur, *rest in rows if on + dur > 0.05]
    if not rows:  # a clip too short for a phrase still gets one note
        rows.append((0.05, seconds * 0.8, candidates[len(candidates) // 2], 0, 0, 0.8))
    cols = list(zip(*rows))
    onset, duration, pitch = (np.asarray(c, dtype=float) for c in cols[:3])
    vowel, consonant = (np.asarray(c, dtype=int) for c in cols[3:5])
    return Syllables(onset, duration, pitch, vowel, consonant, np.asarray(cols[5], dtype=float))


def _smooth(x: np.ndarray, rate: float, seconds: float) -> np.ndarray:
    """One-pole low-pass, forwards and backwards (no lag): coarticulation and portamento."""
    a = np.exp(-1.0 / (seconds * rate))
    y = lfilter([1 - a], [1, -a], x, zi=[x[0] * a])[0]
    return lfilter([1 - a], [1, -a], y[::-1], zi=[y[-1] * a])[0][::-1]


def controls(syl: Syllables, seconds: float, rate: float = CONTROL_RATE) -> dict[str, np.ndarray]:
    """Smooth control curves sampled at ``rate``: loudness envelope, vowel formant weights, mouth shape."""
    n = int(np.ceil(seconds * rate)) + 1
    env = np.zeros(n)
    pitch = np.full(n, np.nan)
    vowel_w = np.zeros((len(VOWELS), n))
    closure = np.zeros(n)  # 1 where the lips are shut (nasal/plosive onsets)
    for on, dur, p, v, c, lvl in zip(syl.onset, syl.duration, syl.pitch, syl.vowel, syl.consonant, syl.level):
        i0, i1 = int(on * rate), min(n, int((on + dur) * rate))
        if i1 <= i0:
            continue
        k = np.arange(i1 - i0) / rate
        attack = np.clip(k / 0.05, 0, 1)
        release = np.clip((dur - k) / 0.08, 0, 1)
        env[i0:i1] = np.maximum(env[i0:i1], lvl * attack * release)
        pitch[i0:i1] = p
        vowel_w[v, i0:i1] = 1.0
        if CONSONANTS[c] in ("plosive", "nasal"):
            closure[i0 : i0 + int(0.06 * rate)] = 1.0
    # Hold the last pitch and vowel through rests, so glides start where the previous note ended.
    idx = np.where(np.isnan(pitch), 0, np.arange(n))
    np.maximum.accumulate(idx, out=idx)
    first = np.nanmin(np.where(np.isnan(pitch), np.inf, pitch)) if np.isfinite(np.nanmin(pitch)) else 60.0
    pitch = np.where(np.isnan(pitch[idx]), first, pitch[idx])
    silent = vowel_w.sum(0) == 0
    vowel_w[:, silent] = vowel_w[:, idx[silent]]
    vowel_w[0, vowel_w.sum(0) == 0] = 1.0
    env = _smooth(env, rate, 0.015)
    vowel_w = np.stack([_smooth(w, rate, 0.03) for w in vowel_w])
    shape = np.array([VOWELS[v][1] for v in VOWEL_NAMES])  # (vowels, 2)
    open_w = (shape[:, 0] @ vowel_w) / vowel_w.sum(0)
    width = (shape[:, 1] @ vowel_w) / vowel_w.sum(0)
    closure = _smooth(closure, rate, 0.01)
    return {
        "env": env,
        "pitch": _smooth(pitch, rate, 0.025),
        "vowel_w": vowel_w,
        # Singers open the mouth with loudness first, vowel quality second.
        "mouth_open": np.clip(env, 0, 1) * (0.55 + 0.45 * open_w) * (1 - 0.9 * closure),
        "mouth_width": width,
    }


def sing(
    singer: Singer, syl: Syllables, seconds: float, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render the syllables as a float32 waveform (peak about 0.5) and return the controls used."""
    ctl = controls(syl, seconds)
    n = int(round(seconds * sample_rate))
    t_ctl = np.arange(len(ctl["env"])) / CONTROL_RATE
    t = np.arange(n) / sample_rate
    up = lambda c: np.interp(t, t_ctl, c)  # noqa: E731 - local shorthand for control-rate -> audio-rate

    vib_onset = np.clip(up(ctl["env"]) * 2, 0, 1)
    drift = _smooth(rng.standard_normal(len(t_ctl)), CONTROL_RATE, 0.2) * 0.08
    semis = up(ctl["pitch"] + drift) + singer.vibrato_depth * vib_onset * np.sin(2 * np.pi * singer.vibrato_rate * t)
    f0 = 440.0 * 2 ** ((semis - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate

    formants = (
        np.array([VOWELS[v][0] for v in VOWEL_NAMES], dtype=float) * singer.tract * np.asarray(singer.formant_shift)
    )  # (vowels, 3)
    f_ctl = (formants.T @ ctl["vowel_w"]) / ctl["vowel_w"].sum(0)  # (3, n_ctl)
    bw = np.array([80.0, 100.0, 140.0])[:, None] * singer.tract
    f0_ctl = 440.0 * 2 ** ((ctl["pitch"] - 69) / 12)
    top = min(7500.0, 0.45 * sample_rate)
    ks = np.arange(1, int(top / f0.min()) + 1)[:, None]
    fk = ks * f0_ctl
    gains = (
        (
            np.sum(1.0 / (1.0 + ((fk[:, None] - f_ctl[None]) / bw[None]) ** 2), axis=1)
            + 0.02
            + singer.ring_gain / (1.0 + ((fk - singer.ring_hz) / 250.0) ** 2)
        )
        * 10 ** (singer.tilt * np.log2(ks) / 20)
        * (fk < top)
    )
    # Equal power for every vowel and pitch: the singer, not the vowel, sets the loudness.
    gains /= np.sqrt(0.5 * np.sum(gains**2, axis=0))
    voiced = np.zeros(n)
    for k, gain in zip(ks[:, 0], gains):
        voiced += up(gain) * np.sin(k * phase)
    env = up(ctl["env"])
    noise = np.diff(rng.standard_normal(n + 1))  # aspiration, tilted towards the highs
    x = env * (voiced + singer.breath * noise * (0.5 + up(ctl["vowel_w"][2] + ctl["vowel_w"][1])))
    x += _consonants(syl, n, sample_rate, rng)
    x *= 0.5 / max(1e-9, np.abs(x).max())
    return x.astype(np.float32), ctl


def _consonants(syl: Syllables, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Short noise bursts (plosives) and hisses (fricatives) at syllable onsets; nasals hum in the voice."""
    out = np.zeros(n)
    for on, c, lvl in zip(syl.onset, syl.consonant, syl.level):
        kind = CONSONANTS[c]
        if kind not in ("plosive", "fricative"):
            continue
        length = int((0.025 if kind == "plosive" else 0.08) * sample_rate)
        i0 = int(on * sample_rate)
        burst = np.diff(rng.standard_normal(length + 1)) * np.hanning(length) * lvl
        burst *= 0.25 if kind == "plosive" else 0.12
        seg = out[i0 : i0 + length]
        seg += burst[: len(seg)]
    return out
