"""A Y-Net separates a raw video of two drawn singers, the one --face picks; and each bad video is refused
naming the file and the problem."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from test_ynet_separate import _stand_in  # noqa: E402  (a Y-Net whose mask is a gain read off its input)

from cunet import audio  # noqa: E402
from cunet.datasets import face, scene  # noqa: E402
from cunet.errors import InputError  # noqa: E402
from cunet.faces.front_end import face_track  # noqa: E402
from cunet.separation.__main__ import main  # noqa: E402
from cunet.singing_input import SAMPLE_RATE, mouth_crops  # noqa: E402

N_FRAMES = 50  # 2 s: one 4-s chunk of the Y-Net, its last frame held


def _singers(n_frames: int, seeds=(1, 2)) -> list[np.ndarray]:
    """Still drawn singers of different looks (skin, lips: what the stand-in's gain reads)."""
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        style = face.FaceStyle.random(rng)
        out.append(face.render(style, np.full(n_frames, 0.4), np.full(n_frames, 0.5), np.zeros(n_frames), rng))
    return out


def _video(path: Path, faces: list[np.ndarray], hidden=(), seed=0, sound=True) -> Path:
    """``faces`` side by side in a 640 x 480 scene (frames in ``hidden`` show the background only), with a mono
    16384 Hz PCM track of noise: an .mkv."""
    rng = np.random.default_rng(seed)
    maps = scene.placements(rng, len(faces), len(faces[0]))
    maps[:, list(hidden), :, 2] += 10_000  # out of the picture
    pictures = scene.render_scene(faces, maps, rng)
    x = (0.1 * np.random.default_rng(seed + 1).standard_normal(len(faces[0]) * SAMPLE_RATE // 25)).astype(np.float32)
    scene.write_video(path, pictures, 25, x if sound else None, SAMPLE_RATE)
    return path


@pytest.fixture(scope="module")
def two_singers(tmp_path_factory) -> Path:
    return _video(tmp_path_factory.mktemp("scene") / "duet.mkv", _singers(N_FRAMES))


def test_face_left_and_right_separate_with_their_own_singer(two_singers, tmp_path):
    model = _stand_in("video", tmp_path)
    with audio.opened(two_singers) as (decoded, _):
        x, _ = audio.read(decoded)
    gains = {}
    for side in ("left", "right"):
        out = tmp_path / side
        assert main([str(model), str(two_singers), "-o", str(out), "--face", side, "--precision", "float32"]) == 0
        stem = out / "duet" / "vocals.wav"  # the default template: <input name>/<stem>.wav
        y, rate = audio.read(stem)
        assert rate == SAMPLE_RATE and y.shape == x.shape
        gains[side] = float((y * x).sum() / (x * x).sum())
        # the gain the stand-in reads off the chosen face's mouth crops (one chunk: the last frame held)
        frames = face_track(two_singers, side).frames
        held = np.concatenate([frames, np.repeat(frames[-1:], 100 - len(frames), 0)])
        assert gains[side] == pytest.approx(float(mouth_crops(held)[..., 0].mean()), rel=1e-2), side
    assert abs(gains["left"] - gains["right"]) > 0.05 * abs(gains["left"])  # two singers, two separations


def test_a_face_number_beyond_the_faces_found_is_refused_naming_the_video(two_singers, tmp_path, capsys):
    model = _stand_in("video", tmp_path)
    out = tmp_path / "out"
    assert main([str(model), str(two_singers), "-o", str(out), "--face", "3"]) == 2
    err = capsys.readouterr().err
    assert str(two_singers) in err and "--face 3: the video holds 2 face(s)" in err
    assert not out.exists()
    assert main([str(model), str(two_singers), "-o", str(out), "--face", "middle"]) == 2
    assert "--face must be one of" in capsys.readouterr().err and not out.exists()


def test_no_face_short_and_long_losses_and_unreadable_videos(tmp_path):
    (singer,) = _singers(N_FRAMES, seeds=(3,))
    empty = _video(tmp_path / "empty.mkv", [singer], hidden=range(N_FRAMES))
    with pytest.raises(InputError, match=f"no face found in any of its {N_FRAMES} frames") as err:
        face_track(empty)
    assert err.value.path == str(empty)
    brief = _video(tmp_path / "brief.mkv", [singer], hidden=range(20, 27))  # 0.28 s: interpolated, said
    found = face_track(brief)
    assert len(found.warnings) == 1 and "lost at 0.80-1.08 s" in found.warnings[0] and str(brief) in found.warnings[0]
    (singer,) = _singers(100, seeds=(3,))
    long = _video(tmp_path / "long.mkv", [singer], hidden=range(30, 60))  # 1.2 s: refused, the span named
    with pytest.raises(InputError, match=r"lost for 1.20 s \(1.20-2.40 s\), over a second"):
        face_track(long)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(brief.read_bytes()[:2000])
    with pytest.raises(InputError) as err:
        face_track(cut)
    assert err.value.path == str(cut)


def test_a_video_without_sound_is_refused_by_the_separation_naming_it(tmp_path, capsys):
    model = _stand_in("video", tmp_path)
    silent = _video(tmp_path / "silent.mkv", _singers(N_FRAMES, seeds=(4,)), sound=False)
    out = tmp_path / "out"
    assert main([str(model), str(silent), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(silent) in err and not out.exists()


@pytest.mark.slow
def test_a_folder_of_singing_videos_becomes_an_acappella_store_that_trains(tiny_root, tmp_path):
    """Videos of drawn singers, laid out as Acappella's recordings: the store's audio is theirs at 16384 Hz, its
    frames and landmarks the front end's, and a Y-Net trains on it."""
    from cunet.datasets import acappella
    from cunet.preprocess.__main__ import main as preprocess
    from cunet.store import Store
    from cunet.train.__main__ import main as train

    root = tmp_path / "videos"
    samples = acappella.scan(tiny_root / "acappella")
    keep = [s for s in samples if s.split != "train" or int(s.id[6:8]) < 4][::3]  # a few of each split
    assert {s.split for s in keep} == set(acappella.SPLITS)
    for i, s in enumerate(keep):
        voice, _ = audio.read(s.audio_path)
        frames = np.load(s.frames_path)[:101]  # one 4-s clip (100 frames and 65535 samples) fits
        path = root / s.split / s.language / s.gender / f"{s.id}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        _video_of(path, frames, voice[0, : len(frames) * SAMPLE_RATE // 25], seed=i)
    out = tmp_path / "stores" / "videos"
    acc = tiny_root / "accompaniment"
    assert (
        preprocess(["--dataset", "videos", "--root", str(root), "--acc-root", str(acc), "--out", str(out), "--quiet"])
        == 0
    )
    converted = out.with_name("videos-acappella")
    assert len(acappella.scan(converted)) == len(keep)
    store = Store(out)
    assert len(store.tracks) == len(keep)
    for track in store.tracks:
        frames, marks = store.array(0, "frames", track.folder), store.array(0, "landmarks", track.folder)
        assert frames.shape == (101, 128, 96, 3) and marks.shape == (101, 68, 2) and marks.dtype == np.int16
    run = tmp_path / "run"
    argv = ["--model", "ynet", "--visual", "landmarks", "--store", str(out), "--run-dir", str(run)]
    assert train([*argv, "--steps", "2", "--batch-size", "2", "--epochs", "1", "--quiet"]) == 0
    assert (run / "model.keras").is_file()


def _video_of(path: Path, frames: np.ndarray, voice: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pictures = scene.render_scene([frames], scene.placements(rng, 1, len(frames)), rng)
    scene.write_video(path, pictures, 25, voice, SAMPLE_RATE)
