"""Y-Net separation: audio plus frames, landmarks or a face video; chunks cross-faded; clear errors."""

from pathlib import Path

import keras
import numpy as np
import pytest

from cunet import audio
from cunet import config as config_io
from cunet.datasets import face
from cunet.errors import InputError
from cunet.models import ModelConfig, build_model
from cunet.separation.__main__ import main
from cunet.separation.load import load_separator as _load
from cunet.separation.visual import load_visual, read_video
from cunet.singing_input import FRAME_SHAPE, mouth_crops

RATE = 16384


def _stand_in(visual: str, folder: Path) -> Path:
    """A Y-Net whose complex mask is a real gain read off the visual input: the mean landmark coordinate
    / 1000, or the mean of the mouth crops' first channel. Separation must return that gain times the
    input (band-limited to 8192 Hz), which checks chunks, cross-fades and the visual alignment."""
    spec = keras.Input((256, 256, 2), name="spectrogram")
    if visual == "landmarks":
        vis = keras.Input((100, 68, 2), name="landmarks")
        gain = keras.layers.Dense(1, use_bias=False, name="gain")(keras.layers.Flatten()(vis))
        weights = np.full((100 * 68 * 2, 1), 1 / (1000 * 100 * 68 * 2), np.float32)
    else:
        vis = keras.Input((100, 96, 96, 3), name="video")
        gain = keras.layers.Dense(1, use_bias=False, name="gain")(keras.layers.GlobalAveragePooling3D()(vis))
        weights = np.array([[1.0], [0.0], [0.0]], np.float32)
    ones = keras.layers.Conv2D(1, 1, kernel_initializer="zeros", bias_initializer="ones", name="ones")(spec)
    zeros = keras.layers.Conv2D(1, 1, kernel_initializer="zeros", name="zeros")(spec)
    real = keras.layers.Multiply()([ones, keras.layers.Reshape((1, 1, 1))(gain)])
    model = keras.Model([spec, vis], keras.layers.Concatenate()([real, zeros]))
    model.get_layer("gain").set_weights([weights])
    model.save(folder / "model.keras")
    config_io.save(ModelConfig(model="ynet", visual=visual), folder / "model_config.json")
    return folder


def load_separator(path, **options):
    """The stand-ins' gains exactly: float32 (bfloat16 would round them to three digits)."""
    return _load(path, precision="float32", **options)


def _faces(n, seed=0, still=False):
    """A synthetic singer's face crops, the mouth opening and closing (or not)."""
    rng = np.random.default_rng(seed)
    mouth = np.full(n, 0.5) if still else 0.5 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 25)
    return face.render(face.FaceStyle.random(rng), mouth, np.full(n, 0.5), np.zeros(n), rng)


@pytest.mark.parametrize("seconds,rate,channels", [(0.5, RATE, 1), (9.3, 44100, 2)])
def test_landmark_gain_comes_back_over_chunks_rates_and_channels(tmp_path, seconds, rate, channels):
    separator = load_separator(_stand_in("landmarks", tmp_path))
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)
    frames = int(np.ceil(seconds * 25))
    marks = np.full((frames, 68, 2), 400.0, np.float32)  # gain 0.4 everywhere
    out = separator.separate(x, rate, visual=marks)["vocals"]
    assert out.shape == x.shape
    want = 0.4 * x  # at full band: the mask is extended above the model's 8192 Hz
    inner = slice(200, -200)
    err = np.sqrt(np.mean((out[:, inner] - want[:, inner]) ** 2) / np.mean(want[:, inner] ** 2))
    assert err < 0.01, err


def test_each_chunk_listens_to_its_own_frames(tmp_path):
    """Landmarks stepping from gain 0.2 to 0.6 at 6 s: the estimate follows, cross-faded within a chunk."""
    separator = load_separator(_stand_in("landmarks", tmp_path))
    x = (0.1 * np.random.default_rng(2).standard_normal(12 * RATE)).astype(np.float32)
    marks = np.full((300, 68, 2), 200.0, np.float32)
    marks[150:] = 600.0
    out = separator.separate(x, RATE, visual=marks)["vocals"]
    early, late = slice(RATE, 2 * RATE), slice(10 * RATE, 11 * RATE)
    assert np.std(out[early]) / np.std(x[early]) == pytest.approx(0.2, rel=0.02)
    assert np.std(out[late]) / np.std(x[late]) == pytest.approx(0.6, rel=0.02)


def test_video_file_npy_frames_and_acappella_layout_are_found_and_agree(tmp_path):
    import av

    faces = _faces(60)
    # a 50 fps face video of 1.2 s: read back at 25 fps, 30 frames
    video = tmp_path / "song.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = 96, 128, "yuv420p"
        stream.bit_rate = 4_000_000
        for frame in np.repeat(faces, 2, 0)[:60]:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frames = read_video(video, 25)
    assert frames.shape == (30, *FRAME_SHAPE) and frames.dtype == np.uint8
    assert np.mean(np.abs(frames.astype(float) - faces[:30])) < 12  # lossy codec, same picture

    audio.write(tmp_path / "song.wav", np.zeros(RATE, np.float32), RATE)
    found, source = load_visual(tmp_path / "song.wav", "video", 25)
    assert source == video and found.shape == frames.shape
    np.save(tmp_path / "song.frames.npy", faces, allow_pickle=False)
    found, source = load_visual(tmp_path / "song.wav", "video", 25)  # .frames.npy before a video
    assert source.name == "song.frames.npy" and np.array_equal(found, faces)

    layout = tmp_path / "test_seen"
    audio.write(layout / "audio/English/Female/x.wav", np.zeros(RATE, np.float32), RATE)
    (layout / "landmarks/English/Female").mkdir(parents=True)
    np.save(layout / "landmarks/English/Female/x.npy", np.ones((25, 68, 2), np.float32), allow_pickle=False)
    marks, source = load_visual(layout / "audio/English/Female/x.wav", "landmarks", 25)
    assert source == layout / "landmarks/English/Female/x.npy" and marks.shape == (25, 68, 2)


def test_video_model_gain_from_mouth_crops(tmp_path):
    separator = load_separator(_stand_in("video", tmp_path))
    faces = _faces(25, seed=3, still=True)
    padded = np.concatenate([faces, np.repeat(faces[-1:], 75, 0)])  # one chunk: the last frame held
    gain = float(mouth_crops(padded)[..., 0].mean())
    x = (0.1 * np.random.default_rng(4).standard_normal(RATE)).astype(np.float32)
    out = separator.separate(x, RATE, visual=faces)["vocals"]
    np.testing.assert_allclose(out, gain * x, rtol=0, atol=1e-3 * abs(gain))


def test_real_ynet_keeps_length_and_channels(tmp_path):
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="ynet", visual="landmarks", widths=(8, 16, 32, 64))
    build_model(cfg).save(tmp_path / "model.keras")
    config_io.save(cfg, tmp_path / "model_config.json")
    separator = load_separator(tmp_path)
    x = (0.1 * np.random.default_rng(5).standard_normal((2, 5 * 22050))).astype(np.float32)
    marks = np.random.default_rng(6).uniform(0, 96, (125, 68, 2)).astype(np.float32)
    out = separator.separate(x, 22050, visual=marks)["vocals"]
    assert out.shape == x.shape and np.all(np.isfinite(out)) and np.any(out)
    high = np.abs(np.fft.rfft(out, axis=-1))[:, int(8500 * out.shape[1] / 22050) :]
    assert high.mean() > 1e-3 * np.abs(np.fft.rfft(x, axis=-1)).mean()  # the band above 8192 Hz is there


@pytest.mark.parametrize("level", ["peak", "slots"])
def test_a_peak_level_ynet_gives_the_same_stems_whatever_the_input_level(tmp_path, level):
    """A user's file is at no particular level. A Y-Net trained on clips over their own peak sees every
    chunk at that level, so a quieter input gives exactly the quieter stems; one trained as the original
    (over the mixture slots) sees a quiet file as quieter than anything it trained on."""
    from cunet.models.card import card_for, save_card

    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="ynet", visual="none", widths=(8, 16, 32, 64))
    build_model(cfg).save(tmp_path / "model.keras")
    config_io.save(cfg, tmp_path / "model_config.json")
    save_card(card_for(cfg, mixture_level=level), tmp_path)
    separator = load_separator(tmp_path)
    x = (0.3 * np.random.default_rng(5).standard_normal((2, 6 * 22050))).astype(np.float32)
    loud = separator.separate(x, 22050)["vocals"]
    quiet = separator.separate(0.05 * x, 22050)["vocals"] / 0.05
    change = np.abs(quiet - loud).max() / np.abs(loud).max()
    if level == "peak":
        assert change < 1e-4
    else:
        assert change > 1e-2


def test_command_separates_with_landmarks_and_refuses_missing_frames(tmp_path, capsys, monkeypatch):
    (tmp_path / "model").mkdir()
    model = _stand_in("landmarks", tmp_path / "model")
    songs = tmp_path / "songs"
    x = (0.1 * np.random.default_rng(7).standard_normal(3 * RATE)).astype(np.float32)
    audio.write(songs / "good.wav", x, RATE, "FLOAT")
    np.save(songs / "good.landmarks.npy", np.full((75, 68, 2), 500.0, np.float32), allow_pickle=False)
    from cunet.separation import inputs

    loads = []
    load_visual = inputs.load_visual
    monkeypatch.setattr(inputs, "load_visual", lambda *a: loads.append(a) or load_visual(*a))
    assert (
        main([str(model), str(songs / "good.wav"), "-o", str(tmp_path / "out"), "--quiet", "--precision", "float32"])
        == 0
    )
    assert len(loads) == 1  # the landmarks (or a video) are read once, for the check and the separation
    y, rate = audio.read(tmp_path / "out/good/vocals.wav")
    assert rate == RATE and y.shape == (1, len(x))
    np.testing.assert_allclose(y[0, 100:-100], 0.5 * x[100:-100], atol=2e-3)

    audio.write(songs / "short.wav", x, RATE, "FLOAT")
    np.save(songs / "short.landmarks.npy", np.full((40, 68, 2), 500.0, np.float32), allow_pickle=False)
    audio.write(songs / "none.wav", x, RATE, "FLOAT")
    for name, message in (("short", "frames missing"), ("none", "needs the singer's landmarks")):
        assert main([str(model), str(songs / f"{name}.wav"), "-o", str(tmp_path / "bad"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert message in err and f"{name}." in err
    assert not (tmp_path / "bad").exists()
    np.save(songs / "short.landmarks.npy", np.full((75, 68, 2), np.nan, np.float32), allow_pickle=False)
    assert main([str(model), str(songs / "short.wav"), "-o", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "short.landmarks.npy: landmarks hold NaN" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_frames_of_the_wrong_shape_are_named(tmp_path):
    audio.write(tmp_path / "a.wav", np.zeros(RATE, np.float32), RATE)
    np.save(tmp_path / "a.frames.npy", np.zeros((25, 64, 64, 3), np.uint8), allow_pickle=False)
    with pytest.raises(InputError, match="a.frames.npy.*uint8 \\(T, 128, 96, 3\\)"):
        load_visual(tmp_path / "a.wav", "video", 25)


def test_blocks_stream_long_inputs_without_seams(tmp_path):
    """5-s blocks (1 s of context each side) instead of 20 s: the same gain everywhere, seams included,
    with the landmarks memory-mapped from disk and sliced per block."""
    separator = load_separator(_stand_in("landmarks", tmp_path), block_seconds=5.0)
    x = (0.1 * np.random.default_rng(8).standard_normal((2, 23 * 22050))).astype(np.float32)
    np.save(tmp_path / "marks.npy", np.full((23 * 25, 68, 2), 300.0, np.float32), allow_pickle=False)
    marks = np.load(tmp_path / "marks.npy", mmap_mode="r", allow_pickle=False)
    out = separator.separate(x, 22050, visual=marks)["vocals"]
    want = 0.3 * x
    inner = slice(200, -200)
    err = np.sqrt(np.mean((out[:, inner] - want[:, inner]) ** 2) / np.mean(want[:, inner] ** 2))
    assert out.shape == x.shape and err < 0.01, err


def _offset_video(path: Path, video_start: float, audio_start: float, audio_codec: str, n_frames: int = 50):
    """A 25 fps video whose frame k is a flat grey of level 20 + 4k (its index, readable through a lossy
    codec), its stream starting at ``video_start`` s, beside 2 s of audio starting at ``audio_start`` s."""
    from fractions import Fraction

    import av

    rate = 16000
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=50)  # a 1/50 s clock: 0.5 s is 12.5 frames of 25 fps
        video.width, video.height, video.pix_fmt, video.bit_rate = 96, 128, "yuv420p", 4_000_000
        sound = container.add_stream(audio_codec, rate=rate, layout="mono")
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.full(FRAME_SHAPE, 20 + 4 * k, np.uint8), format="rgb24")
            frame.pts, frame.time_base = 2 * k + round(video_start * 50), Fraction(1, 50)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        x = (0.1 * np.sin(np.arange(2 * rate) / 5)).astype(np.float32)
        for s in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[None, s : s + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, round(audio_start * rate) + s, Fraction(1, rate)
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    "name,video_start,audio_start,codec", [("late.mp4", 0.5, 0.0, "aac"), ("early.mkv", 0.0, 0.5, "pcm_s16le")]
)
def test_video_frames_are_timed_on_the_audio_clock(tmp_path, name, video_start, audio_start, codec):
    """Frame i of a video is what it shows i/25 s after its audio starts: a video starting 0.5 s after its
    audio holds its first frame for those 0.5 s; one starting 0.5 s before has its first 0.5 s dropped.
    (Timed from the first frame, both were 12.5 frames off.)"""
    frames = read_video(_offset_video(tmp_path / name, video_start, audio_start, codec), 25)
    shown = (frames.reshape(len(frames), -1).mean(1) - 20) / 4  # the index of the video frame shown
    wanted = audio_start + np.arange(len(frames)) / 25 - video_start  # on the video's own clock
    expected = np.clip(np.floor(wanted * 25 + 1e-6), 0, 49)
    assert np.abs(shown - expected).max() <= 1, np.c_[shown, expected][:20]
    assert abs(len(frames) - (video_start + 2.0 - audio_start) * 25) <= 1  # up to the video's end


def test_video_that_ends_before_its_audio_starts_is_named(tmp_path):
    video = _offset_video(tmp_path / "gone.mkv", 0.0, 2.5, "pcm_s16le")
    with pytest.raises(InputError, match="gone.mkv.*ends .*before its audio starts"):
        read_video(video, 25)
