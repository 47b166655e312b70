from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from cunet import audio
from cunet.datasets import acappella, accompaniment, synthetic


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_whatever_the_parallelism(tiny_root, tmp_path):
    again = synthetic.generate(tmp_path / "again", seed=0, size="tiny", jobs=2, progress=False)
    assert _files(again) == _files(tiny_root)


def test_other_seed_gives_other_music():
    a = synthetic.music_track(0, 0, 3.0)["vocals"]
    b = synthetic.music_track(1, 0, 3.0)["vocals"]
    assert not np.array_equal(a, b)


def test_music_layout_is_musdb18hq_and_mixture_is_the_exact_sum(tiny_root):
    tracks = sorted((tiny_root / "musdb" / "train").iterdir())
    assert len(tracks) == synthetic.SIZES["tiny"].music_train
    for track in tracks[:2]:
        stems = {}
        for stem in ("mixture", "vocals", "drums", "bass", "other"):
            info = sf.info(track / f"{stem}.wav")
            assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
            stems[stem] = sf.read(track / f"{stem}.wav", dtype="int16")[0].astype(np.int32)
        total = stems["vocals"] + stems["drums"] + stems["bass"] + stems["other"]
        np.testing.assert_array_equal(stems["mixture"], total)
        for stem in ("vocals", "drums", "bass", "other"):  # every stem audible, none dominating by far
            share = np.sqrt(np.mean(stems[stem].astype(float) ** 2)) / np.sqrt(np.mean(total.astype(float) ** 2))
            assert 0.05 < share < 1.5, (track.name, stem, share)


def test_vocals_are_sung_lines_with_pitch_and_rests(tiny_root):
    track = sorted((tiny_root / "musdb" / "train").iterdir())[0]
    x, rate = audio.read(track / "vocals.wav", 16384, 1)
    frames = np.lib.stride_tricks.sliding_window_view(x[0], 1024)[::512]
    loud = np.sqrt((frames**2).mean(1))
    assert (loud < 0.05 * loud.max()).mean() > 0.05  # rests between phrases
    # A pitched voice: the autocorrelation of a loud frame peaks at a period in the singing range.
    frame = frames[np.argmax(loud)] * np.hanning(1024)
    ac = np.correlate(frame, frame, "full")[1023:]
    lag = np.argmax(ac[16:200]) + 16
    assert 80 < rate / lag < 1000 and ac[lag] > 0.3 * ac[0]


def _clips(root: Path):
    """(singer, voice, landmarks) of every audio-visual clip."""
    out = []
    for sample in acappella.scan(root / "acappella"):
        out.append((sample.id.split("-")[0], sample.load_audio(), np.load(sample.landmarks_path)))
    return out


def _loudness(voice: np.ndarray, n_frames: int) -> np.ndarray:
    edges = np.round(np.arange(n_frames + 1) * acappella.SAMPLES_PER_FRAME).astype(int)
    return np.array([np.sqrt(np.mean(voice[a:b] ** 2)) for a, b in zip(edges[:-1], edges[1:])])


def _opening(marks: np.ndarray) -> np.ndarray:
    return (marks[:, 66, 1] - marks[:, 62, 1]).astype(float)  # inner-lip gap


def test_mouth_follows_its_own_voice_and_not_another_singers(tiny_root):
    clips = _clips(tiny_root)
    own = [np.corrcoef(_opening(m), _loudness(v, len(m)))[0, 1] for _, v, m in clips]
    assert min(own) > 0.8, own
    cross = []
    for i, (si, _, mi) in enumerate(clips):
        for sj, vj, _ in clips[i + 1 :]:
            if si != sj:
                n = min(len(mi), len(vj) // 656)
                cross.append(np.corrcoef(_opening(mi[:n]), _loudness(vj, n))[0, 1])
    assert abs(np.mean(cross)) < 0.05 and np.median(np.abs(cross)) < 0.2, (np.mean(cross), np.median(np.abs(cross)))


def test_audio_visual_layout_shapes_and_alignment(tiny_root):
    samples = acappella.scan(tiny_root / "acappella")
    assert {s.split for s in samples} == {"train", "val_seen", "test_seen", "test_unseen"}
    singers = {s.id.split("-")[0] for s in samples}
    unseen = {s.id.split("-")[0] for s in samples if s.split == "test_unseen"}
    assert len(singers - unseen) >= 8 and not unseen & {s.id.split("-")[0] for s in samples if s.split == "train"}
    for sample in samples[:4]:
        n_samples, n_frames = sample.check()
        frames, marks = np.load(sample.frames_path), np.load(sample.landmarks_path)
        assert frames.dtype == np.uint8 and frames.shape == (n_frames, 128, 96, 3)
        assert marks.dtype == np.int16 and marks.shape == (n_frames, 68, 2)
        assert marks[..., 0].min() >= 0 and marks[..., 0].max() < 96 and marks[..., 1].max() < 128
        assert abs(n_frames - n_samples / acappella.SAMPLES_PER_FRAME) <= 1
        # The drawn mouth is where the landmarks say: darker cavity pixels appear when the lips part.
        k = int(np.argmax(_opening(marks)))
        x, y = marks[k, 66, 0], (marks[k, 62, 1] + marks[k, 66, 1]) // 2
        assert frames[k, y, x].mean() < frames[k, 20, 48].mean() or frames[k, y, x, 0] < 100


def test_singers_have_distinct_voices():
    """Each clip's long-term mel spectrum (timbre and range, level removed) is nearest to the same singer's."""
    mel = librosa.filters.mel(sr=acappella.SAMPLE_RATE, n_fft=audio.YNET_STFT.n_fft, n_mels=40)
    names, ltas = [], []
    for singer in range(10):
        for clip in range(2):
            voice, _ = synthetic.singing_voice(0, singer, clip, 12.0)
            spec = np.abs(audio.stft(voice, audio.YNET_STFT)) ** 2
            loud = spec.sum(0) > 0.1 * spec.sum(0).max()
            x = np.log(mel @ spec[:, loud].mean(1) + 1e-9)
            names.append(singer)
            ltas.append(x - x.mean())
    ltas = np.array(ltas)
    dist = np.linalg.norm(ltas[:, None] - ltas[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    hits = np.mean([names[i] == names[j] for i, j in enumerate(dist.argmin(1))])
    assert hits >= 0.8, hits


def test_accompaniment_tree_has_categories_per_split(tiny_root):
    clips, feeds = acappella.scan_accompaniment(tiny_root / "accompaniment", ["train", "val_seen", "test_seen"])
    assert feeds == {"train": "unbalanced_train", "val_seen": "eval", "test_seen": "test"}
    assert {c.category for c in clips} == set(accompaniment.CATEGORIES)
    assert {c.split for c in clips} == {"unbalanced_train", "eval", "test"}


def test_unknown_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown size"):
        synthetic.generate(tmp_path / "x", size="huge", progress=False)
