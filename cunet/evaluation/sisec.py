"""The SiSEC 2018 protocol: stems separated at full band, BSS Eval v4 on the original-rate stereo files.

What Open-Unmix, Spleeter and Demucs publish (museval): every test track of the store is read again from
its dataset folder (recorded in the store's manifest) at its own rate and channel count, separated at full
band, and each model's targets are scored together against their references with BSS Eval v4 (1-s windows
and hops; the median over windows, then, in the tables, over tracks). The oracle rows are computed the same
way at full band, as sigsep-mus-oracle does: the mixture itself, and the ideal ratio masks |S|^1 and |S|^2
on a 4096-point STFT (hop 1024) of the original audio.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets import musdb
from ..datasets.musdb import SOURCES
from ..datasets.store import Store
from ..errors import InputError
from .metrics import SilentSignalWarning, bss_eval_v4, track_score
from .oracle import oracle_estimates

PROTOCOLS = ("paper", "sisec", "both")
METRICS = ("sdr", "isr", "sir", "sar")


@dataclasses.dataclass
class FullBandTrack:
    name: str
    rate: int
    references: np.ndarray  # (sources, channels, samples) in SOURCES order
    mixture: np.ndarray  # (channels, samples)
    oracles: dict[str, np.ndarray]  # oracle -> (sources, channels, samples)


def oracle_stft(rate: int) -> audio.StftConfig:
    """sigsep-mus-oracle's STFT at 44.1 kHz (4096 points, hop 1024), the same length in seconds elsewhere."""
    scale = rate / 44100
    return audio.StftConfig(rate, max(16, 2 * round(2048 * scale)), max(4, round(1024 * scale)))


def full_band_tracks(store: Store, max_tracks: int = 0):
    """The store's test tracks read from their dataset folder at its own rate and channels."""
    root = Path(store.manifest.get("source", {}).get("root") or "")
    if not (root / "test").is_dir():
        raise InputError(root, f"the sisec protocol reads the original audio of {store.path}, recorded here, which "
                               "is not a MUSDB18 folder (here): use --protocol paper, or run from where it was made")
    on_disk = {t.name: t for t in musdb.scan(root)[0] if t.split == "test"}
    names = [t["name"] for t in store.tracks if t["split"] == "test"]
    for name in names[: max_tracks or None]:
        if name not in on_disk:
            raise InputError(root / "test" / name, "is in the store but not in the dataset folder")
        track = on_disk[name]
        if track.is_stem_mp4:
            stems = track.load(44100, 2)
            rate = 44100
        else:
            stems, rate = {}, None
            for stem in ("mixture", *SOURCES):
                stems[stem], rate = audio.read(track.stem_path(stem))
        refs = np.stack([stems[s] for s in SOURCES])
        stft = oracle_stft(rate)
        specs = audio.stft(refs, stft)
        oracles = oracle_estimates(specs, audio.stft(stems["mixture"], stft), stft, refs.shape[-1])
        yield FullBandTrack(name, rate, refs, stems["mixture"], oracles)


def score_targets(track: FullBandTrack, estimates: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{target: (channels, samples) estimate} -> {target: {metric_v4: track score}}, the targets scored
    together against their references (museval's v4; a target's SDR does not depend on the others)."""
    targets = [t for t in SOURCES if t in estimates]
    refs = np.stack([track.references[SOURCES.index(t)].T for t in targets])
    ests = np.stack([np.asarray(estimates[t]).T for t in targets])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentSignalWarning)
        frames = bss_eval_v4(refs, ests, rate=track.rate)
    return {t: {f"{m}_v4": float(track_score(frames[m])[i]) for m in METRICS} for i, t in enumerate(targets)}


def sisec_rows(track: FullBandTrack, separators: list) -> list[dict]:
    """Long-format rows for the oracles and every (name, separator) on one full-band track."""
    rows = []
    estimates = {name: {t: est[i] for i, t in enumerate(SOURCES)} for name, est in track.oracles.items()}
    for name, separator in separators:
        separated = separator.separate(track.mixture, track.rate)
        estimates[name] = {t: separated[t] for t in separator.targets if t in SOURCES}
    for model, est in estimates.items():
        for target, values in score_targets(track, est).items():
            rows += [{"track": track.name, "split": "test", "target": target, "protocol": "sisec", "model": model,
                      "metric": metric, "value": value} for metric, value in values.items()]
    return rows
