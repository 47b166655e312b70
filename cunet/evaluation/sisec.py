"""The SiSEC 2018 protocol: stems separated at full band, BSS Eval v4 on the original-rate stereo files.

What Open-Unmix, Spleeter and Demucs publish (museval): every test track of the store is read again from
its dataset folder (recorded in the store's manifest) at its own rate and channel count, separated at full
band, and each model's targets are scored against all four references with BSS Eval v4 (1-s windows and
hops; the median over windows, then, in the tables, over tracks), a model that gives fewer targets completed
with the mixture less its estimates (see :func:`score_targets`). The oracle rows are computed the same
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


def full_band_tracks(store: Store, max_tracks: int = 0, root: str | Path | None = None, split: str = "test"):
    """The store's tracks of ``split`` read from their dataset folder at its own rate and channels.

    Args:
        store: a music store.
        max_tracks: only the first N tracks (0: all).
        root: the dataset folder (default: the one the manifest records, as recorded).
        split: test, or valid (the songs held out of the dataset's train/ folder).
    Returns:
        An iterator of :class:`FullBandTrack`; the folder and every track's presence in it are checked when
        this is called, before any track is read, so a refusal comes before any scoring.
    """
    root = Path(store.manifest.get("source", {}).get("root") or "") if root is None else Path(root)
    subset = "test" if split == "test" else "train"  # the validation songs are held out of train/
    if not (root / subset).is_dir():
        raise InputError(root, f"the sisec protocol reads the original audio of {store.path}, recorded here, which "
                               "is not a MUSDB18 folder (here): use --protocol paper, or give --dataset-root")
    on_disk = {t.name: t for t in musdb.scan(root)[0] if t.subset == subset}
    names = [t["name"] for t in store.tracks if t["split"] == split][: max_tracks or None]
    if not names:
        raise InputError(store.path, f"holds no {split} track")
    for name in names:
        if name not in on_disk:
            raise InputError(root / subset / name, "is in the store but not in the dataset folder")

    def read():
        for name in names:
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

    return read()


def score_targets(track: FullBandTrack, estimates: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """A model's targets scored as museval scores them when every reference of the track is present.

    Each estimate is projected on all the track's references, so what it holds of the other sources is
    interference (SIR), not an artefact (SAR). Targets the model does not give are completed with an equal
    share of the mixture less its estimates ("the rest"). Reference sets other than all four would change
    the scores: with the target's reference alone the interference projection is empty (SIR +inf, the
    interference charged to SAR); with the target and "mixture less target" as two references the
    projection space is smaller than that of the four (a synthetic song: 0.5 to 0.9 dB more SIR than museval's).
    With all four, a target's four scores depend only on its own estimate (v4 fits one projection per
    estimate), except that a window where any estimate is silent is NaN for every target, as in museval:
    the completed estimates are silent only where the mixture is the model's estimates' sum.

    Args:
        track: the full-band track, its references in SOURCES order.
        estimates: {target: (channels, samples) estimate} for 1 to 4 of SOURCES; others are ignored.
    Returns:
        {target: {metric_v4: track score}} for the targets given (the median over 1-s windows).
    """
    given = [t for t in SOURCES if t in estimates]
    if not given:
        return {}
    length = track.mixture.shape[-1]

    def fitted(x):  # cut or zero-padded to the mixture, as museval's pad_or_truncate does
        x = np.asarray(x, np.float64)[..., :length]
        return np.pad(x, [(0, 0), (0, length - x.shape[-1])])

    ests = {t: fitted(estimates[t]) for t in given}
    if len(given) < len(SOURCES):
        share = (track.mixture - sum(ests.values())) / (len(SOURCES) - len(given))
        ests.update({t: share for t in SOURCES if t not in ests})
    refs = np.stack([r.T for r in track.references])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentSignalWarning)
        frames = bss_eval_v4(refs, np.stack([ests[t].T for t in SOURCES]), rate=track.rate)
    return {t: {f"{m}_v4": float(track_score(frames[m])[SOURCES.index(t)]) for m in METRICS} for t in given}


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
