"""Single notes of the six-source set's instruments: each a caricature of its physics, so they differ the way
real ones do and a separator has something to learn apart.

* guitar: a plucked string. Harmonic partials (a guitar string's stiffness is negligible), the comb of the pluck
  point, a near-instant attack, and losses that grow with frequency: the high partials die first, so the
  pluck's brightness fades within a fraction of a second and the note within one or two.
* piano: a hammered string. Stiff-string partials ``f_n = n f0 sqrt(1 + B n^2)`` (stretched: the 8th partial
  about 1 % sharp of 8 f0 in the middle register), two unison strings a fraction of a cent apart, a two-stage
  decay (a prompt sound then a long aftersound, as coupled strings give) held until the damper falls, and the
  felt hammer's thump at the onset.
* pad, organ, strings (what stays in ``other``): sustained while held, with attacks that swell over tens to
  hundreds of milliseconds instead of striking.

Every function is pure: the same arguments give the same samples (callers cache repeated notes).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

GUITAR_RANGE = (40, 76)  # E2..E5: low E open string to the high E string's 12th fret
GUITAR_RELEASE = 0.04  # s: a fretting finger lifting mutes the string quickly
PIANO_RELEASE = 0.12  # s: the felt damper needs longer
PIANO_STRIKE = 1 / 7  # the hammer strikes near 1/7 of the string, so the 7th partial is weak
TOP_HZ = 9000.0  # no partial above this: nothing of these instruments' identity lives higher


def hz(midi: float) -> float:
    """Frequency (Hz) of a MIDI note number."""
    return 440.0 * 2 ** ((float(midi) - 69) / 12)


def midi_number(frequency: float) -> float:
    """The (fractional) MIDI note number of a frequency in Hz: the inverse of :func:`hz`."""
    return 69 + 12 * np.log2(frequency / 440.0)


def piano_stiffness(midi: float) -> float:
    """Inharmonicity coefficient B of the piano's string for ``midi``: larger in the treble (short, thick
    strings), about 3.5e-4 at middle C as measured on grands."""
    return 3.5e-4 * 2 ** ((float(midi) - 60) / 24)


def _ramp(n: int, sample_rate: int, attack: float, held: float, release: float) -> np.ndarray:
    """Raised-cosine attack over ``attack`` s, flat while held, linear release over ``release`` s."""
    t = np.arange(n) / sample_rate
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / max(attack, 1e-6), 0, 1))
    return rise * np.clip(1 - (t - held) / release, 0, 1)


def _schroeder(k: np.ndarray) -> np.ndarray:
    """Partial phases that spread a sustained tone's energy over its period (no needle-like peaks)."""
    return np.pi * k * (k - 1) / max(len(k), 1)


def guitar_note(midi: float, held: float, sample_rate: int, pluck: float = 0.137, bright: float = 1.0) -> np.ndarray:
    """A plucked string.

    Args:
        midi: the note (MIDI number, fractional allowed).
        held: seconds until the string is muted.
        sample_rate: Hz.
        pluck: where along the string it is plucked (0..0.5); partials with a node there are missing.
        bright: 1 for a bright pick attack (acoustic), lower for a rounder tone (a neck pickup).

    Returns:
        float64 (samples,), ``held + GUITAR_RELEASE`` seconds, peak near 1.
    """
    f0 = hz(midi)
    n = int(round((held + GUITAR_RELEASE) * sample_rate))
    k = np.arange(1, 61)
    freqs = k * f0 * np.sqrt(1 + 1e-5 * k**2)  # a steel string's B is ~1e-5: harmonic to 0.03 %
    keep = freqs < min(TOP_HZ, 0.45 * sample_rate)
    k, freqs = k[keep], freqs[keep]
    amps = (np.abs(np.sin(np.pi * k * pluck)) + 0.03) / k ** (1.0 + 0.6 * (1 - bright))
    # Losses grow as frequency squared: each partial decays faster than the one below it.
    tau = 0.8 * (110.0 / f0) ** 0.35 / (1 + (freqs / 1600.0) ** 2)
    out = _decaying(freqs, tau, amps, n, sample_rate) * _ramp(n, sample_rate, 0.001, held, GUITAR_RELEASE)
    return out / amps.sum()


def piano_note(midi: float, held: float, sample_rate: int, velocity: float = 0.8) -> np.ndarray:
    """A hammered, stiff string pair.

    Args:
        midi: the note (MIDI number).
        held: seconds until the damper falls (key released, no pedal).
        sample_rate: Hz.
        velocity: 0..1; harder strikes are brighter (the felt stiffens) and thump more.

    Returns:
        float64 (samples,), ``held + PIANO_RELEASE`` seconds, peak near 1.
    """
    f0 = hz(midi)
    n = int(round((held + PIANO_RELEASE) * sample_rate))
    k = np.arange(1, 41)
    freqs = k * f0 * np.sqrt(1 + piano_stiffness(midi) * k**2)
    keep = freqs < min(TOP_HZ, 0.45 * sample_rate)
    k, freqs = k[keep], freqs[keep]
    # Felt hammer: a low-pass whose corner rises with velocity; the strike point thins the 7th partial.
    amps = (np.abs(np.sin(np.pi * k * PIANO_STRIKE)) + 0.05) / k**0.7 / (1 + (freqs / (800 + 2400 * velocity)) ** 2)
    prompt = 0.5 * (261.6 / f0) ** 0.5 / (1 + (freqs / 2500.0) ** 2)
    after = np.clip(6.0 * (261.6 / f0) ** 0.6, 1.5, 15.0) / (1 + (freqs / 2000.0) ** 2)
    # Each partial: prompt and aftersound, on two unison strings, the second 0.8 cent sharp and weaker (slow
    # beats, never a full cancellation).
    freqs = np.concatenate([freqs, freqs, freqs * 1.00046, freqs * 1.00046])
    decays = np.concatenate([prompt, after, prompt, after])
    weights = np.concatenate([0.55 * amps, 0.45 * amps, 0.22 * amps, 0.18 * amps])
    out = _decaying(freqs, decays, weights, n, sample_rate) / (1.4 * amps.sum())
    thump_len = int(0.03 * sample_rate)
    noise = np.random.default_rng([int(round(midi * 8))]).standard_normal(thump_len)
    pole = np.exp(-2 * np.pi * 1200.0 / sample_rate)
    thump = lfilter([1 - pole], [1, -pole], noise) * np.exp(-np.arange(thump_len) / (0.006 * sample_rate))
    head = out[:thump_len]
    head += 0.35 * velocity * thump[: len(head)]
    return out * _ramp(n, sample_rate, 0.002, held, PIANO_RELEASE)


def _decaying(freqs: np.ndarray, decays: np.ndarray, amps: np.ndarray, n: int, sample_rate: int) -> np.ndarray:
    """``sum_i amps_i exp(-t / decays_i) sin(2 pi freqs_i t)`` over ``n`` samples from t = 0.

    Each term ``exp(s_i t)`` is the product of its value at the start of a block and its value at the offset
    within the block, so the sum over terms is one complex matrix product (a sine and an exponential a sample
    and a term took five times as long)."""
    block = 512
    starts = np.arange(-(-n // block)) * block / sample_rate
    offsets = np.arange(block) / sample_rate
    s = -1.0 / np.asarray(decays, dtype=float) + 2j * np.pi * np.asarray(freqs, dtype=float)
    terms = np.asarray(amps, dtype=float)[:, None] * np.exp(np.outer(s, offsets))
    return (np.exp(np.outer(starts, s)) @ terms).imag.ravel()[:n]


def _sustained(numbers: np.ndarray, amps: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``sum_i amps_i sin(numbers_i * phase + offset_i)`` for ascending whole ``numbers``: the i-th partial's
    phasor is the fundamental's raised to its number, one complex multiply a sample instead of a sine."""
    fundamental = np.exp(1j * phase)
    power, at = np.ones_like(fundamental), 0
    total = np.zeros_like(fundamental)
    for k, a, o in zip(numbers, amps, _schroeder(np.arange(1, len(numbers) + 1))):
        for _ in range(int(k) - at):
            power *= fundamental
        at = int(k)
        total += a * np.exp(1j * o) * power
    return total.imag


def pad_note(midi: float, held: float, sample_rate: int) -> np.ndarray:
    """A synth pad: two detuned saw-like voices, a slow swell and a slow fade.

    Args:
        midi: the note. held: seconds before the release starts. sample_rate: Hz.

    Returns:
        float64 (samples,), ``held + 0.4`` seconds.
    """
    n = int(round((held + 0.4) * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for cents in (-7.0, 7.0):
        f0 = hz(midi + cents / 100)
        k = np.arange(1, int(min(5000.0, 0.45 * sample_rate) / f0) + 1)
        out += _sustained(k, 1.0 / k**1.6, 2 * np.pi * f0 * t)
    return out / 3 * _ramp(n, sample_rate, 0.35, held, 0.4)


def organ_note(midi: float, held: float, sample_rate: int) -> np.ndarray:
    """A drawbar organ: fixed sine footages (16', 8', 5 1/3', 4', 2 2/3', 2'), a rotating-speaker tremolo and a
    swell-pedal onset.

    Args:
        midi: the note. held: seconds before the release starts. sample_rate: Hz.

    Returns:
        float64 (samples,), ``held + 0.08`` seconds.
    """
    n = int(round((held + 0.08) * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = hz(midi)
    halves = np.array([1, 2, 3, 4, 6, 8])  # footages as multiples of half the note's frequency
    levels = np.array([0.6, 1.0, 0.5, 0.6, 0.35, 0.3])
    keep = halves * f0 / 2 < 0.45 * sample_rate
    wobble = 1 + 0.0015 * np.sin(2 * np.pi * 6.2 * t)  # the horn's Doppler shift
    out = _sustained(halves[keep], levels[keep], np.pi * np.cumsum(f0 * wobble) / sample_rate)
    out *= 1 + 0.2 * np.sin(2 * np.pi * 6.2 * t + 1.0)
    return out / levels.sum() * _ramp(n, sample_rate, 0.09, held, 0.08)


def strings_note(midi: float, held: float, sample_rate: int) -> np.ndarray:
    """A bowed string section: three slightly detuned sawtooth players with delayed vibrato, bowed in slowly.

    Args:
        midi: the note. held: seconds before the release starts. sample_rate: Hz.

    Returns:
        float64 (samples,), ``held + 0.3`` seconds.
    """
    n = int(round((held + 0.3) * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    f0 = hz(midi)
    k = np.arange(1, int(min(7000.0, 0.45 * sample_rate) / f0) + 1)
    for player, (cents, rate) in enumerate(((-5.0, 5.3), (0.0, 5.8), (6.0, 5.1))):
        vibrato = 0.12 * np.clip(t / 0.6, 0, 1) * np.sin(2 * np.pi * rate * t + player)
        f = f0 * 2 ** ((cents / 100 + vibrato) / 12)
        out += _sustained(k, 1.0 / k, 2 * np.pi * np.cumsum(f) / sample_rate)
    return out / 5 * _ramp(n, sample_rate, 0.25, held, 0.3)
