"""The examples results are scored on (test or validation): whole music tracks, and Y-Net clips mixed as in training."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import audio
from ..datasets.mixing import clip_at, singing_levels
from ..errors import InputError
from ..singing_input import CLIP_FRAMES, CLIP_SAMPLES, SAMPLES_PER_FRAME
from ..store import Store
from .oracle import oracle_estimates

VOICE = "voice"  # a Y-Net clip's target: the singer whose frames condition the model


@dataclasses.dataclass
class Example:
    """One scored mixture: its sources (the target first) and, for Y-Nets, the visual inputs."""

    track: str
    target: str
    rate: int
    sources: np.ndarray  # (sources, samples) waveforms; the target is row 0
    mixture: np.ndarray
    oracles: dict[str, np.ndarray]  # oracle name -> the target's estimate
    visual: dict[str, np.ndarray] | None = None  # kind -> the target singer's frames / landmarks
    other_visual: dict[str, np.ndarray] | None = None  # the same of another singer
    split: str = "test"  # the store's split (a Y-Net's test_seen or test_unseen singers)
    absent: bool = False  # the track holds none of the target: no score, only counted (sources etc. empty)
    singers: int | None = None  # Y-Net clips: singers in the mixture (1, or 2 with a second singer)
    loudness: float | None = None  # Y-Net clips: the target voice's RMS over the accompaniment's


def music_examples(store: Store, max_tracks: int = 0, split: str = "test"):
    """Every track of ``split`` (test, or valid: held out of training) of a music store, once per source of
    the store (the stems' STFTs made waveforms at 8192 Hz).

    A source the track does not hold (``sources_present`` in the manifest) has no reference to score against:
    its example comes with ``absent`` set and nothing else, so that tables count it apart ("absent in k
    tracks") instead of a NaN among the scores."""
    tracks = [i for i, t in enumerate(store.tracks) if t.split == split]
    if not tracks:
        raise InputError(store.path, f"holds no {split} track")
    for i in tracks[: max_tracks or None]:
        n = store.tracks[i].n_samples
        sources = store.music.sources
        present = store.music.tracks[i].holds(sources)
        specs = np.stack([np.asarray(store.array(i, s)) for s in sources])
        mix_spec = np.asarray(store.array(i, "mixture"))
        stems = audio.istft(specs, audio.CUNET_STFT, length=n)
        mixture = audio.istft(mix_spec, audio.CUNET_STFT, length=n)
        oracles = oracle_estimates(specs, mix_spec, audio.CUNET_STFT, n)
        for j, target in enumerate(sources):
            if target not in present:
                empty = np.zeros((0, n), np.float32)
                yield Example(
                    store.tracks[i].name,
                    target,
                    audio.CUNET_STFT.sample_rate,
                    empty,
                    mixture,
                    {},
                    split=split,
                    absent=True,
                )
                continue
            order = [j] + [k for k in range(len(sources)) if k != j]
            yield Example(
                store.tracks[i].name,
                target,
                audio.CUNET_STFT.sample_rate,
                stems[order],
                mixture,
                {name: est[j] for name, est in oracles.items()},
                split=split,
            )


def singing_clips(store: Store, split: str = "test") -> list[tuple[int, int]]:
    """(track, first frame) of every whole 4-s clip of the tracks of ``split`` (test: test_seen and every
    test_unseen; valid: val_seen, the seen singers' validation clips), clips not overlapping."""
    clips = []
    for i, t in enumerate(store.tracks):
        if t.split.startswith("test") if split == "test" else t.split == "val_seen":
            for frame in range(0, t.n_frames - CLIP_FRAMES + 1, CLIP_FRAMES):
                if int(round(frame * SAMPLES_PER_FRAME)) + CLIP_SAMPLES <= t.n_samples:
                    clips.append((i, frame))
    if len({i for i, _ in clips}) < 2:
        raise InputError(store.path, f"needs 4-second {split} clips of at least two singers")
    return clips


def singing_examples(store: Store, seed: int = 0, loudness: float = 1.0, max_tracks: int = 0, split: str = "test"):
    """Each clip of ``split`` mixed with an accompaniment of its split, alone and with a second singer from
    another clip."""
    clips = singing_clips(store, split)

    def voice(track, frame):
        return clip_at(store.array(track, "voice"), int(round(frame * SAMPLES_PER_FRAME)))

    def visual(track, frame):
        return {
            kind: np.asarray(store.array(track, name)[frame : frame + CLIP_FRAMES])
            for kind, name in (("video", "frames"), ("landmarks", "landmarks"))
        }

    for c, (track, frame) in enumerate(clips[: max_tracks or None]):
        rng = np.random.default_rng([seed, c])
        feeds = store.singing.accompaniment_for_split[store.tracks[track].split]
        accs = [a for a in store.singing.accompaniment if a.split == feeds]
        clip = accs[rng.integers(len(accs))]
        offset = int(rng.integers(max(1, clip.n_samples - CLIP_SAMPLES)))
        acc = clip_at(store.array(0, "audio", clip.folder), offset)
        others = [k for k, (t, _) in enumerate(clips) if t != track]
        other_track, other_frame = clips[others[rng.integers(len(others))]]
        for singers, second in ((1, None), (2, voice(other_track, other_frame))):
            parts = [p for p in singing_levels(voice(track, frame), acc, loudness, second) if p is not None]
            sources = np.stack(parts)
            mixture = sources.sum(0)
            specs = audio.stft(sources, audio.YNET_STFT)
            oracles = oracle_estimates(specs, specs.sum(0), audio.YNET_STFT, CLIP_SAMPLES)
            yield Example(
                f"{store.tracks[track].name}@{frame}",
                VOICE,
                audio.YNET_STFT.sample_rate,
                sources,
                mixture,
                {name: est[0] for name, est in oracles.items()},
                visual(track, frame),
                visual(other_track, other_frame),
                store.tracks[track].split,
                singers=singers,
                loudness=float(loudness),
            )
