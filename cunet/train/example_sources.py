"""Training examples from a store, as NumPy arrays: example ``i`` of a stream is a pure function of (seed, i).

Its index row and every augmentation draw come from ``np.random.default_rng([seed, i])``. A stream restarted
at example ``i`` is therefore the same stream, which is what makes an interrupted training resume exactly.
Validation examples are the validation index in order, with no augmentation; validation tracks are never drawn
for training. :mod:`cunet.train.data_loader` makes tf.data pipelines of them.
"""

from __future__ import annotations

import numpy as np

from .. import audio
from ..datasets.mixing import clip_at, singing_levels
from ..errors import InputError
from ..singing_input import (
    CLIP_SAMPLES,
    MOUTH_COLS,
    MOUTH_ROWS,
    SAMPLES_PER_FRAME,
)
from ..store import Store
from ..store.manifest import MusicTrack
from .config import TrainConfig

# Redraws of a second singer's row before choosing among the other recordings' rows directly: more than a
# split needs unless one recording holds nearly all of its rows (all 64 fail with probability share**64).
REDRAWS = 64


def mixture_peak(track: MusicTrack) -> float:
    """The largest STFT magnitude of a stored track's mixture: the scale of its training patches."""
    return float(track.stem_max_magnitude["mixture"]) or 1.0


class MusicPatches:
    """C-U-Net / U-Net examples: ((|mixture| patch, condition), |target| patch), each (512, 128, 1).

    Spectrograms are divided by the largest STFT magnitude of the track's mixture, which a separator
    computes from its input alone, so that a network meets the scale at separation that it was trained on
    (the original divided by the largest over all stems, which a separator cannot know); the Nyquist bin
    is dropped. Training draws augment as the original: with
    probability ``gain_prob`` per active source, the condition value p ~ U(0, 1) scales that source in
    the target (not in the mixture); with probability ``remix_prob`` the inactive sources are replaced
    by the same instruments from random other training tracks, summed as complex STFTs. A dedicated U-Net
    never gets the gain augmentation: it has no condition input to learn the scale from, so a scaled target
    would only be label noise (the original trains its dedicated models without it).

    In a store whose tracks lack some sources (``sources_present`` in the manifest; MUSDB18 tracks hold all
    four), a training example first draws its condition uniformly, so every source is trained equally often
    however few tracks hold it; then, with probability ``silent_target_prob``, a patch of a track holding none
    of the condition's sources (the target is silence: a model asked for a guitar in a song without one learns
    to return nothing), else one of a track that holds it. A store where every track holds every source is
    drawn as before, one uniform row of the index (the same examples, seed for seed).
    """

    failure: BaseException | None = None  # what example() raised inside a pipeline (see surfacing)

    def __init__(self, store: Store, split: str, cfg: TrainConfig):
        self.store, self.cfg, self.train = store, cfg, split == "train"
        self.gain_prob = 0.0 if cfg.model.model == "unet" else cfg.gain_prob
        rows = store.index(split)
        if cfg.model.model == "unet":  # a dedicated model: one row per patch, the target's condition
            rows = rows[rows[:, 2] == target_condition(store, cfg.target)]
        if not len(rows):
            raise InputError(store.path, f"the {split!r} index is empty: no track is long enough for a patch")
        self.rows = rows
        self.patch = store.music.indexes[split].patch_frames
        # The remix augmentation draws a patch from any training track: one shorter than a patch (which the
        # index already leaves out) has none to give, so it is skipped here too, and the run records that.
        train_tracks = store.track_ids("train")
        short = [t for t in train_tracks if store.tracks[t].n_frames < self.patch]
        self.train_tracks = np.array([t for t in train_tracks if t not in short], np.int64)
        self.warnings = (
            [
                f"training track {store.tracks[t].name!r} ({store.tracks[t].n_frames} frames) is "
                f"shorter than one {self.patch}-frame patch: skipped (never drawn, nor remixed from)"
                for t in short
            ]
            if self.train
            else []
        )
        self.sources = list(store.music.sources)
        names = list(store.music.conditions.names or self.sources)
        # the conditions of several sources (--condition), for the model card: ((name, sources), ...)
        self.combinations = tuple(
            (name, tuple(s for s, v in zip(self.sources, vector) if v))
            for name, vector in zip(names, np.asarray(store.conditions))
            if name not in self.sources and name not in ("all", "silence")
        )
        self.by_condition = self._by_condition(store, rows) if self.train else None

    def _by_condition(self, store: Store, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """For each condition of the index: the positions of its rows whose track holds one of its sources,
        and of the others (silent targets); None when every row's track holds its condition's sources."""
        held = np.array([[s in t.holds(self.sources) for s in self.sources] for t in store.music.tracks], bool).reshape(
            len(store.tracks), len(self.sources)
        )
        vectors = np.asarray(store.conditions) != 0
        # the all-zeros condition's target is silence in every track: never a silent draw of its own
        present = (held[rows[:, 0]] & vectors[rows[:, 2]]).any(1) | ~vectors[rows[:, 2]].any(1)
        if present.all():
            return None
        return [
            (np.flatnonzero(present & (rows[:, 2] == c)), np.flatnonzero(~present & (rows[:, 2] == c)))
            for c in np.unique(rows[:, 2])
        ]

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        """A training row: uniform over the index, or (some sources absent somewhere) as the class says."""
        if self.by_condition is None:
            return self.rows[rng.integers(len(self.rows))]
        holding, lacking = self.by_condition[rng.integers(len(self.by_condition))]
        silent = len(lacking) and (not len(holding) or rng.random() < self.cfg.silent_target_prob)
        pool = lacking if silent else holding
        return self.rows[pool[rng.integers(len(pool))]]

    def __len__(self) -> int:
        return len(self.rows)

    def _stem(self, track: int, stem: str, start: int) -> np.ndarray:
        spec = self.store.array(track, stem)[:512, start : start + self.patch]
        return spec / np.float32(mixture_peak(self.store.music.tracks[track]))

    def example(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.cfg.seed, int(i)])
        track, start, cond = (int(v) for v in (self._draw(rng) if self.train else self.rows[int(i) % len(self.rows)]))
        z = np.array(self.store.conditions[cond], np.float32)
        mixture = self._stem(track, "mixture", start)
        target = np.zeros_like(mixture)
        active = np.zeros_like(mixture)
        for d, source in enumerate(self.sources):
            if z[d] == 0:
                continue
            stem = self._stem(track, source, start)
            active += stem
            if self.train and rng.random() < self.gain_prob and np.any(mixture):
                z[d] = rng.random()
                stem = stem * z[d]
            target += stem
        if self.train and rng.random() < self.cfg.remix_prob and len(self.train_tracks) > 1:
            mixture = active
            for d, source in enumerate(self.sources):
                if z[d] == 0:
                    other = int(rng.choice(self.train_tracks[self.train_tracks != track]))
                    start_other = int(rng.integers(self.store.tracks[other].n_frames - self.patch + 1))
                    mixture = mixture + self._stem(other, source, start_other)
        return np.abs(mixture)[..., None], z, np.abs(target)[..., None]


def target_condition(store: Store, target: str) -> int:
    """The condition id that selects ``target`` in ``store`` (a dedicated U-Net's rows).

    Args:
        store: a music store; target: one of its sources (or named conditions).

    Returns:
        The position of ``target`` among the store's condition names."""
    names = list(store.music.conditions.names or store.music.sources)
    if target not in names or target in ("all", "silence"):
        raise InputError(
            store.path, f"no source {target!r} in this store; its sources are {', '.join(store.music.sources)}"
        )
    return names.index(target)


class SingingMixtures:
    """Y-Net examples: ((mixture spectrogram, visual), (target, mixture) spectrograms).

    A 4-second clip of the target voice (65535 samples at 16384 Hz) with its 100 video frames (mouth
    crops) or landmarks; an accompaniment clip, both RMS-normalised with the voice at loudness k times
    the accompaniment; with probability ``second_singer_prob`` a second singer from another clip; the
    mixture is their sum divided by the number of slots (3 with ``remix``, else 2), as the original.
    Spectrograms keep every second bin (256 x 256), real and imaginary parts last.
    """

    failure: BaseException | None = None  # what example() raised inside a pipeline (see surfacing)

    def __init__(self, store: Store, split: str, cfg: TrainConfig):
        self.store, self.cfg, self.train = store, cfg, split == "train"
        self.rows = store.index(split)
        if not len(self.rows):
            raise InputError(store.path, f"the {split!r} index is empty: no clip is 4 seconds long")
        clip_split = self.store.singing.indexes[split].split
        feeds = self.store.singing.accompaniment_for_split.get(clip_split)
        if feeds is None:
            raise InputError(
                store.manifest_path,
                f"'accompaniment_for_split' names no accompaniment split for "
                f"the {clip_split!r} clips: re-run python -m cunet.preprocess",
            )
        listed = [a for a in self.store.singing.accompaniment if a.split == feeds]
        # A clip shorter than a Y-Net example is repeated to length (clip_at), but an empty one has nothing
        # to repeat: skipped, and the run records that.
        self.acc = [a for a in listed if a.n_samples > 0]
        self.warnings = [
            f"accompaniment clip {a.name!r} ({a.folder}) is empty: skipped" for a in listed if a.n_samples == 0
        ]
        if not self.acc:
            raise InputError(
                store.manifest_path,
                f"no accompaniment clip (of split {feeds!r}) for the "
                f"{split!r} examples: re-run python -m cunet.preprocess",
            )
        self.slots = 3 if cfg.remix else 2
        if cfg.remix and cfg.second_singer_prob > 0 and len(np.unique(self.rows[:, 0])) < 2:
            name = store.tracks[int(self.rows[0, 0])].name
            raise InputError(
                store.path,
                f"every clip of the {split!r} index is from one recording ({name!r}), "
                f"but a mixture with a second singer (second_singer_prob="
                f"{cfg.second_singer_prob}) needs one from another: add recordings to "
                f"the {clip_split!r} split, or train with --set second_singer_prob=0",
            )

    def __len__(self) -> int:
        return len(self.rows)

    def _voice(self, track: int, frame: int) -> np.ndarray:
        return clip_at(self.store.array(track, "voice"), int(round(frame * SAMPLES_PER_FRAME)))

    def _visual(self, track: int, frame: int, rng: np.random.Generator) -> np.ndarray:
        """Landmarks (in training, moved as ``landmark_offset_px`` and ``landmark_jitter_px`` ask), or the uint8
        mouth regions that :func:`mouth_crops_tf` resizes and normalises."""
        n = self.cfg.model.video_frames
        if self.cfg.model.visual == "video":
            return np.asarray(self.store.array(track, "frames")[frame : frame + n, MOUTH_ROWS, MOUTH_COLS])
        marks = np.asarray(self.store.array(track, "landmarks")[frame : frame + n], np.float32)
        offset, jitter = self.cfg.landmark_offset_px, self.cfg.landmark_jitter_px
        if self.train and (offset or jitter):  # drawn last, so runs without it keep their example streams
            moved = marks + rng.normal(0, offset, (1, *marks.shape[1:])) + rng.normal(0, jitter, marks.shape)
            return moved.astype(np.float32)
        return marks

    def _other_row(self, rng: np.random.Generator, track: int) -> int:
        """A row of another recording than ``track``, uniformly (__init__ made sure there is one).

        Drawn as earlier versions drew it, redrawing while the row is ``track``'s, which keeps the example
        streams of their seeds; but at most REDRAWS times, then among the other recordings' rows at once,
        so that a split dominated by one recording costs one pass over its rows, never an endless loop.

        Args:
            rng: the example's generator.
            track: the target voice's track id.

        Returns:
            The position of the row in ``self.rows``.
        """
        for _ in range(REDRAWS):
            pick = int(rng.integers(len(self.rows)))
            if int(self.rows[pick, 0]) != track:
                return pick
        others = np.flatnonzero(self.rows[:, 0] != track)
        return int(others[rng.integers(len(others))])

    def example(self, i: int):
        rng = np.random.default_rng([self.cfg.seed, int(i)])
        pick = rng.integers(len(self.rows)) if self.train else int(i) % len(self.rows)
        track, frame = (int(v) for v in self.rows[pick])
        clip = self.acc[rng.integers(len(self.acc))]
        offset = int(rng.integers(max(1, clip.n_samples - int(1.2 * CLIP_SAMPLES))))
        acc = clip_at(self.store.array(0, "audio", clip.folder), offset)
        k = float(rng.choice(self.cfg.loudness))
        other = None
        if self.cfg.remix and rng.random() < self.cfg.second_singer_prob:
            other = self._voice(*(int(v) for v in self.rows[self._other_row(rng, track)]))
        voice, acc, other = singing_levels(self._voice(track, frame), acc, k, other)
        total = voice + acc + (other if other is not None else 0)
        if self.cfg.mixture_level == "peak":  # what a separator computes from a chunk of any input
            scale = max(float(np.abs(total).max()), 1e-8)
            voice, total = voice / scale, total / scale
        else:
            total = total / self.slots
        spec_voice = audio.stft(voice, audio.YNET_STFT)[::2]
        spec_mix = audio.stft(total, audio.YNET_STFT)[::2]
        mixture = audio.real_imag(spec_mix)
        return mixture, self._visual(track, frame, rng), np.concatenate([audio.real_imag(spec_voice), mixture], -1)


def examples(cfg: TrainConfig, store: Store, split: str):
    """The examples of ``split`` for ``cfg``'s model: :class:`SingingMixtures` for a Y-Net, else
    :class:`MusicPatches`."""
    return (SingingMixtures if cfg.model.model == "ynet" else MusicPatches)(store, split, cfg)
