"""The SiSEC 2018 protocol: stems separated at full band, BSS Eval v4 on the original-rate stereo files.

What Open-Unmix, Spleeter and Demucs publish (museval): every test track of the store is read again from
its dataset folder (recorded in the store's manifest) at its own rate and channel count, separated at full
band, and each model's targets are scored against all the store's references (MUSDB18's four, or the sources a
multi-stem store chose, summed from the dataset's files as the store's selection says) with BSS Eval v4 (1-s
windows and hops; the median over windows, then, in the tables, over tracks), a model that gives fewer targets
completed with the mixture less its estimates (see :func:`score_targets`). A source a track does not hold is
no reference and no score there: a row of metric ``absent`` counts it (rows.ABSENT). The oracle rows are
computed the same way at full band, as sigsep-mus-oracle does: the mixture itself, and the ideal ratio masks
|S|^1 and |S|^2 on a 4096-point STFT (hop 1024) of the original audio.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from .. import audio
from ..datasets import checks, folders, moisesdb, musdb, slakh
from ..datasets.musdb import SOURCES
from ..datasets.stems import source_signals
from ..errors import InputError
from ..store import Store
from .metrics import SilentSignalWarning, bss_eval_v4, track_score
from .oracle import oracle_estimates
from .rows import ABSENT, ScoreRow

METRICS = ("sdr", "isr", "sir", "sar")


@dataclasses.dataclass
class FullBandTrack:
    """One test track as the SiSEC protocol scores it: its stems at the original rate and channels, their
    mixture, and the oracles' estimates computed from them."""

    name: str
    rate: int
    references: np.ndarray  # (sources, channels, samples) in ``sources`` order
    mixture: np.ndarray  # (channels, samples)
    oracles: dict[str, np.ndarray]  # oracle -> (sources, channels, samples)
    sources: tuple[str, ...] = SOURCES  # the store's sources
    present: tuple[str, ...] | None = None  # those the track holds (None: all); the others are not scored


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
    source = store.manifest.source
    root = Path(source.root if source else "") if root is None else Path(root)
    if source and source.dataset in STEM_READERS:
        return _stem_tracks(store, max_tracks, root, split, STEM_READERS[source.dataset])
    subset = "test" if split == "test" else "train"  # the validation songs are held out of train/
    if not (root / subset).is_dir():
        raise InputError(
            root,
            f"the sisec protocol reads the original audio of {store.path}, recorded here, which "
            "is not a MUSDB18 folder (here): use --protocol paper, or give --dataset-root",
        )
    on_disk = {t.name: t for t in musdb.scan(root)[0] if t.subset == subset}
    names = [t.name for t in store.tracks if t.split == split][: max_tracks or None]
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


# How each multi-stem layout is read again, with the splits the store recorded (the names of its tracks).
STEM_READERS = {
    "moisesdb": lambda root, test, valid: moisesdb.scan(
        root, test_tracks=test, test_fraction=0, valid_tracks=valid, valid_fraction=0
    )[0],
    "slakh": lambda root, test, valid: slakh.scan(root, valid or None, 0)[0],
    "folders": lambda root, test, valid: folders.scan(root, valid or None, 0)[0],
}


def _stem_tracks(store: Store, max_tracks: int, root: Path, split: str, reader):
    """:func:`full_band_tracks` of a multi-stem layout: each track's sources as the store chose them (its
    ``selection``), at the rate and channel count of the track's first file."""
    split_names = {s: [t.name for t in store.tracks if t.split == s] for s in ("test", "valid")}
    names = split_names[split][: max_tracks or None]
    if not names:
        raise InputError(store.path, f"holds no {split} track")
    on_disk = {t.name: t for t in reader(root, split_names["test"], split_names["valid"])}
    for name in names:
        if name not in on_disk:
            raise InputError(root, f"does not hold track {name!r} of the store {store.path}")
    selection = {s: tuple(stems) for s, stems in (store.music.selection or {}).items()}
    by_name = {t.name: t for t in store.music.tracks}

    def read():
        for name in names:
            track = on_disk[name]
            first = checks.header(track.files[0])
            stems = source_signals(track.load(int(first.samplerate), int(first.channels)), selection)
            refs = np.stack([stems[s] for s in selection])
            stft = oracle_stft(int(first.samplerate))
            oracles = oracle_estimates(audio.stft(refs, stft), audio.stft(stems["mixture"], stft), stft, refs.shape[-1])
            present = by_name[name].holds(selection)
            yield FullBandTrack(name, int(first.samplerate), refs, stems["mixture"], oracles, tuple(selection), present)

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
        track: the full-band track, its references in its ``sources`` order.
        estimates: {target: (channels, samples) estimate} for some of the track's sources; others are ignored
            (and so are the sources the track does not hold).
    Returns:
        {target: {metric_v4: track score}} for the targets given (the median over 1-s windows).
    """
    # The references are the track's own: a source it does not hold has a silent reference, which would make
    # every window NaN for every target (museval's rule), so it is left out, its estimate with it.
    sources = [t for t in track.sources if track.present is None or t in track.present]
    refs = np.stack([track.references[track.sources.index(t)].T for t in sources])
    given = [t for t in sources if t in estimates]
    if not given:
        return {}
    length = track.mixture.shape[-1]

    def fitted(x):  # cut or zero-padded to the mixture, as museval's pad_or_truncate does
        x = np.asarray(x, np.float64)[..., :length]
        return np.pad(x, [(0, 0), (0, length - x.shape[-1])])

    ests = {t: fitted(estimates[t]) for t in given}
    if len(given) < len(sources):
        share = (track.mixture - sum(ests.values())) / (len(sources) - len(given))
        ests.update({t: share for t in sources if t not in ests})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentSignalWarning)
        frames = bss_eval_v4(refs, np.stack([ests[t].T for t in sources]), rate=track.rate)
    return {t: {f"{m}_v4": float(track_score(frames[m])[sources.index(t)]) for m in METRICS} for t in given}


def sisec_rows(track: FullBandTrack, separators: list, split: str = "test") -> list[ScoreRow]:
    """The scores of the oracles and every (name, separator) on one full-band track of ``split``."""

    def row(target, model, metric, value):
        return ScoreRow(track.name, split, target, "sisec", model, metric, value)

    rows = [row(t, "", ABSENT, 1.0) for t in track.sources if track.present is not None and t not in track.present]
    estimates = {name: {t: est[i] for i, t in enumerate(track.sources)} for name, est in track.oracles.items()}
    for name, separator in separators:
        separated = separator.separate(track.mixture, track.rate)
        estimates[name] = {t: separated[t] for t in separator.targets if t in track.sources}
    for model, est in estimates.items():
        for target, values in score_targets(track, est).items():
            rows += [row(target, model, metric, value) for metric, value in values.items()]
    return rows
