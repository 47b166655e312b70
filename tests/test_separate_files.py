"""Separating files as users hold them: formats in and out, clip modes, bad input, the public API."""

import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_separate import EXACT, GAINS, _song, cunet_run, gain_run  # noqa: F401  (module fixtures)

from cunet import audio
from cunet import config as config_io
from cunet.models import ModelConfig
from cunet.separation.__main__ import main
from cunet.separation.writers import ClippingWarning, OutputConfig
from cunet.train.config import TrainConfig

TARGETS = ("bass", "drums", "other", "vocals")


def _encode(path: Path, x: np.ndarray, rate: int, codec: str) -> None:
    """Write (channels, samples) with PyAV's encoder ``codec`` (mp3 via LAME, m4a via FFmpeg's aac)."""
    import av

    layout = "stereo" if x.shape[0] == 2 else "mono"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        size = stream.codec_context.frame_size or 1152
        for start in range(0, x.shape[1], size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, start : start + size]), format="fltp", layout=layout
            )
            frame.rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _decoded(path: Path) -> np.ndarray:
    with audio.opened(path) as (readable, _):
        return audio.read(readable)[0]


@pytest.mark.parametrize("codec,suffix", [("libmp3lame", ".mp3"), ("aac", ".m4a")])
def test_compressed_inputs_are_decoded_and_separated(gain_run, tmp_path, codec, suffix):
    song = tmp_path / f"song{suffix}"
    _encode(song, _song(3.0), 44100, codec)
    x = _decoded(song)
    assert x.shape[0] == 2 and abs(x.shape[1] - 3 * 44100) < 3000
    assert main([str(gain_run), str(song), "-o", str(tmp_path / "out"), "--quiet", "--precision", "float32"]) == 0
    for target in TARGETS:
        y, rate = audio.read(tmp_path / "out" / "song" / f"{target}.wav")
        assert rate == 44100 and y.shape == x.shape
        np.testing.assert_allclose(y, GAINS[target] * x, atol=1e-3)


def test_each_input_is_decoded_once_and_read_twice(gain_run, tmp_path, monkeypatch):
    """One pass checks every sample and computes the input scale, one separates; an mp3 is decoded once
    (before: twice, and read whole three times)."""
    songs = [tmp_path / "a.mp3", tmp_path / "b.mp3"]
    for k, song in enumerate(songs):
        _encode(song, _song(3.0 + k), 44100, "libmp3lame")
    frames = {s.name: _decoded(s).shape[1] for s in songs}
    decoded, copies, read = [], [], {}
    decode, read_span = audio.decode, audio.read_span

    def counted_decode(path, wav):
        decoded.append(Path(path).name)
        copies.append(Path(wav))
        return decode(path, wav)

    lock = threading.Lock()  # the checking pass reads two spans at a time

    def counted_read(path, start, stop):
        x = read_span(path, start, stop)
        with lock:
            read[path] = read.get(path, 0) + x.shape[-1]
        return x

    monkeypatch.setattr(audio, "decode", counted_decode)
    monkeypatch.setattr(audio, "read_span", counted_read)
    out = tmp_path / "out"
    assert main([str(gain_run), *map(str, songs), "-o", str(out), "--quiet", "--precision", "float32"]) == 0
    assert sorted(decoded) == ["a.mp3", "b.mp3"]  # once each
    # two decoded copies, each read whole twice: the checking and scaling pass, then the separation
    assert sorted(read.values()) == sorted(2 * n for n in frames.values()), (read, frames)
    for song in songs:
        assert {p.name for p in (out / song.stem).iterdir()} == {f"{t}.wav" for t in TARGETS}
    assert not any(copy.exists() for copy in copies)  # the decoded copies are gone


def test_audio_track_of_a_video_is_separated(gain_run, tmp_path):
    import av

    clip = tmp_path / "clip.mp4"
    x = _song(2.0)
    with av.open(str(clip), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=44100, layout="stereo")
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 5, np.uint8), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        size = sound.codec_context.frame_size
        for start in range(0, x.shape[1], size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, start : start + size]), format="fltp", layout="stereo"
            )
            frame.rate = 44100
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    assert main([str(gain_run), str(clip), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    y, _ = audio.read(tmp_path / "out" / "clip" / "vocals.wav")
    assert y.shape == _decoded(clip).shape


def test_mp3_and_integer_outputs(gain_run, tmp_path):
    x = _song(3.0)
    audio.write(tmp_path / "a.wav", x, 44100, "FLOAT")
    for bits, template, subtype in (
        (16, "{name}/{target}.wav", "PCM_16"),
        (24, "{target}/{name}.flac", "PCM_24"),
        (None, "{name}-{target}.mp3", "MPEG_LAYER_III"),
    ):
        out = tmp_path / f"out{bits}"
        argv = [str(gain_run), str(tmp_path / "a.wav"), "-o", str(out), "--quiet", "--template", template]
        assert main(argv + (["--bits", str(bits)] if bits else []) + ["--precision", "float32"]) == 0
        for target in TARGETS:
            path = out / template.format(name="a", target=target)
            assert audio.info(path).subtype == subtype
            y, rate = audio.read(path) if path.suffix != ".mp3" else (_decoded(path), 44100)
            want = GAINS[target] * x
            if path.suffix == ".mp3":  # lossy, and shifted by the codec's delay: compare levels only
                assert abs(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(want**2)) - 1) < 0.05
            else:
                np.testing.assert_allclose(y, want, atol=2 ** -(bits - 1) + 1e-4)
        assert not list(out.rglob(".*")), "temporary files left behind"


def test_clip_modes(gain_run, tmp_path):
    x = 3.0 * _song(2.0) / np.abs(_song(2.0)).max()  # vocals (gain 0.4) peak at 1.2, other at 0.9
    audio.write(tmp_path / "loud.wav", x, 44100, "FLOAT")
    results = {}
    for mode in ("rescale", "clamp", "none"):
        out = tmp_path / mode
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import cunet

            cunet.separate_file(str(gain_run), tmp_path / "loud.wav", out, clip_mode=mode, **EXACT)
        messages = [str(w.message) for w in caught if issubclass(w.category, ClippingWarning)]
        assert messages and all("loud" in m for m in messages), messages
        results[mode] = {t: audio.read(out / "loud" / f"{t}.wav")[0] for t in TARGETS}
    factor = 0.999 / (0.4 * 3.0)
    for t in TARGETS:  # one factor for every stem: they still add up to the (scaled) input
        np.testing.assert_allclose(results["rescale"][t], factor * GAINS[t] * x, atol=1e-4)
        np.testing.assert_allclose(results["clamp"][t], np.clip(GAINS[t] * x, -1, 1), atol=1e-4)
        np.testing.assert_allclose(results["none"][t], GAINS[t] * x, atol=1e-4)
    assert np.abs(results["none"]["vocals"]).max() > 1.1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused_and_nothing_is_written(gain_run, tmp_path, capsys, bad):
    good, broken = _song(1.0), _song(2.0)
    broken[1, 50000] = bad
    audio.write(tmp_path / "in" / "a.wav", good, 44100, "FLOAT")
    audio.write(tmp_path / "in" / "b.wav", broken, 44100, "FLOAT")
    out = tmp_path / "out"
    assert main([str(gain_run), str(tmp_path / "in"), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith(f"error: {tmp_path / 'in' / 'b.wav'}: ")
    assert "NaN or infinite" in err and "50000" in err
    assert not out.exists()  # not even the good input's stems: every input is checked first
    import cunet

    with pytest.raises(ValueError, match="NaN or infinite"):
        cunet.load_separator(gain_run).separate(broken, 44100)


def test_templates_are_checked(gain_run, tmp_path, capsys):
    audio.write(tmp_path / "a.wav", _song(1.0), 44100, "FLOAT")
    for template, message in (
        ("{song}/{target}.wav", "unknown key"),
        ("{name}.wav", "lacks {target}"),
        ("../{name}/{target}.wav", "outside the output folder"),
        ("{name}/{target}.ogg", "unsupported output format"),
        ("{name}/{target}.flac --bits 32", ""),
    ):
        argv = [str(gain_run), str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--quiet"]
        if "--bits" in template:
            argv += ["--template", template.split()[0], "--bits", "32"]
            message = "32-bit flac"
        else:
            argv += ["--template", template]
        assert main(argv) == 2, template
        assert message in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError):
        OutputConfig(clip_mode="loud")


def test_public_api_in_three_lines(cunet_run, tmp_path):
    import cunet

    separator = cunet.load_separator(cunet_run, residual=True)
    stems = separator.separate(x := 0.5 * _song(2.0) / np.abs(_song(2.0)).max(), 44100)
    assert list(stems) == [*TARGETS, "residual"] and separator.sample_rate == 8192
    audio.write(tmp_path / "s.wav", x, 44100, "FLOAT")
    written = cunet.separate_file(separator, tmp_path / "s.wav", tmp_path / "out")
    np.testing.assert_allclose(sum(audio.read(p)[0] for p in written), x, atol=1e-4)
    with pytest.raises(ValueError, match="looks like \\(samples, channels\\)"):
        separator.separate(x.T, 44100)  # what soundfile.read returns
    for name in ("load_separator", "separate_file"):
        assert "Args:" in getattr(cunet, name).__doc__ and "Returns:" in getattr(cunet, name).__doc__


@pytest.mark.parametrize(
    "script", ["cunet-preprocess", "cunet-train", "cunet-separate", "cunet-results", "cunet-export"]
)
def test_console_scripts(script):
    path = shutil.which(script) or str(Path(sys.executable).parent / script)
    proc = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr


def test_old_run_folders_load_and_a_card_that_disagrees_is_named(gain_run, tmp_path, capsys):
    import keras

    from cunet.models.card import CARD_FILE, load_card
    from cunet.separation.load import load_separator

    assert not (gain_run / CARD_FILE).exists()  # a folder from before cards: derived from its configs
    assert load_separator(gain_run).targets == TARGETS
    unet = tmp_path / "unet"
    unet.mkdir()
    for name in ("model.keras",):
        shutil.copy(gain_run / name, unet / name)
    config_io.save(ModelConfig(model="unet"), unet / "model_config.json")
    # the training config as every run saved it ({"type": ..., "values": ...}), from before cards
    config_io.save(TrainConfig(model=ModelConfig(model="unet"), target="drums"), unet / "config.json")
    assert load_card(unet, ModelConfig(model="unet")).targets == ("drums",)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    keras.Model(*(lambda i: (i, keras.layers.Dense(1)(i)))(keras.Input((256, 64, 1)))).save(wrong / "model.keras")
    config_io.save(ModelConfig(model="unet"), wrong / "model_config.json")
    config_io.save(TrainConfig(model=ModelConfig(model="unet"), target="vocals"), wrong / "config.json")
    audio.write(tmp_path / "a.wav", _song(1.0), 44100, "FLOAT")
    assert main([str(wrong), str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "model_config.json" in err and "disagrees" in err


def test_two_inputs_for_one_output_are_refused_and_zero_flags_count(gain_run, tmp_path, capsys):
    from cunet.separation.__main__ import configs, parse_args

    for disc in ("disc1", "disc2"):
        audio.write(tmp_path / disc / "01.wav", _song(1.0), 44100, "FLOAT")
    out = tmp_path / "out"
    assert main([str(gain_run), str(tmp_path / "disc1"), str(tmp_path / "disc2"), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "written twice" in err and not out.exists()
    assert str(tmp_path / "disc1" / "01.wav") in err and str(tmp_path / "disc2" / "01.wav") in err  # both named
    assert (
        main(
            [
                str(gain_run),
                str(tmp_path / "disc1"),
                str(tmp_path / "disc2"),
                "-o",
                str(out),
                "--quiet",
                "--template",
                "{target}/{name}.wav",
            ]
        )
        == 2
    )  # still one name for both
    sep_cfg, _ = configs(parse_args([str(gain_run), "x.wav", "--patch-overlap", "0"]))
    assert sep_cfg.patch_overlap == 0


def test_output_names_are_told_apart_after_resolving(tmp_path):
    """The Python API checks its stems' names as the command does: resolved, so that a template that
    walks back up (``{target}/../``) cannot send every stem to one file."""
    from cunet.errors import InputError
    from cunet.separation.writers import OutputConfig, output_paths

    cfg = OutputConfig(template="{name}/{target}/../one.wav")
    with pytest.raises(InputError, match="two stems one file name"):
        output_paths(("bass", "drums"), Path("song.wav"), tmp_path, cfg)
    names = output_paths(("bass", "drums"), Path("song.wav"), tmp_path, OutputConfig())
    assert [n.relative_to(tmp_path).as_posix() for n in names] == ["song/bass.wav", "song/drums.wav"]
