import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from cunet import audio
from cunet.errors import InputError

CONVENTIONS = [audio.CUNET_STFT, audio.YNET_STFT]


def music_like(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Harmonic tones plus noise at a realistic level (peak below 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / (k + 1) for k, f in enumerate(rng.uniform(80, 2000, 8)))
    x = x[None] + 0.05 * rng.standard_normal((channels, t.size))
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("cfg", CONVENTIONS, ids=["cunet", "ynet"])
def test_stft_agrees_with_librosa(cfg):
    x = music_like(3.0, cfg.sample_rate, channels=2)
    ours = audio.stft(x, cfg)
    ref = librosa.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop, window="hann", center=True, pad_mode="reflect")
    assert ours.shape == ref.shape == (2, cfg.n_fft // 2 + 1, 1 + x.shape[-1] // cfg.hop)
    assert ours.dtype == np.complex64
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cfg", CONVENTIONS, ids=["cunet", "ynet"])
@pytest.mark.parametrize("n", [65535, 65536, 8192 * 3 + 17])
def test_istft_inverts_stft(cfg, n):
    x = music_like(n / cfg.sample_rate + 0.01, cfg.sample_rate)[0, :n]
    y = audio.istft(audio.stft(x, cfg), cfg, length=n)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-5, rtol=0)
    ref = librosa.istft(audio.stft(x, cfg), n_fft=cfg.n_fft, hop_length=cfg.hop, length=n)
    np.testing.assert_allclose(y, ref, atol=1e-5, rtol=0)


def test_istft_of_a_band_limited_mask_equals_the_full_mask_and_writes_in_place():
    """A compact mask (the model's band and one column extending it upwards) gives the stems the full mask
    gives, and separation's masks through bands.BandMap(compact=True) are those masks."""
    from cunet.separation.bands import BandMap, input_stft

    rng = np.random.default_rng(1)
    target = input_stft(audio.CUNET_STFT, 44100)
    x = music_like(2.0, 44100, channels=2)
    spec = audio.stft(x, target, frames_first=True)
    masks = rng.uniform(size=(3, 512, 70)).astype(np.float32)  # three targets at the model's resolution
    for extend in ("average", "zero"):
        bands = BandMap(audio.CUNET_STFT, 512, target, extend)
        full, compact = bands(masks, spec.shape[-2]), bands(masks, spec.shape[-2], compact=True)
        assert compact.shape[-1] == bands.inside + 1 < full.shape[-1]
        want = audio.istft(full[:, None] * spec[None], target, x.shape[1], frames_first=True)
        out = np.full((3, 2, x.shape[1]), np.nan, np.float32)
        for k in range(3):
            got = audio.istft(spec, target, x.shape[1], frames_first=True, mask=compact[k], out=out[k])
            assert got is out[k] or np.shares_memory(got, out)
        np.testing.assert_allclose(out, want, atol=2e-6, rtol=0)
    with pytest.raises(ValueError, match="out has shape"):
        audio.istft(spec, target, x.shape[1], frames_first=True, out=np.empty((2, 5), np.float32))


def test_ynet_clip_is_256_frames_of_512_bins():
    # The Y-Net's 4-second clip: 65535 samples at 16384 Hz give 512 x 256 (ORIGINALS §2.1).
    spec = audio.stft(np.zeros(65535, np.float32), audio.YNET_STFT)
    assert spec.shape == (512, 256)


@pytest.mark.parametrize("rate,channels", [(44100, 2), (22050, 1), (48000, 2)])
def test_read_matches_librosa_load(tmp_path, rate, channels):
    x = music_like(2.0, rate, channels)
    path = tmp_path / "in.wav"
    sf.write(path, x.T, rate, subtype="FLOAT")
    ours, got_rate = audio.read(path, 8192, 1)
    ref, _ = librosa.load(path, sr=8192, mono=True)
    assert got_rate == 8192 and ours.shape == (1, ref.size) and ours.dtype == np.float32
    np.testing.assert_allclose(ours[0], ref, atol=1e-5, rtol=0)


def test_read_channel_conversion_and_flac(tmp_path):
    x = music_like(1.0, 16000, 1)
    audio.write(tmp_path / "mono.flac", x, 16000)
    stereo, rate = audio.read(tmp_path / "mono.flac", channels=2)
    assert rate == 16000 and stereo.shape == (2, x.shape[1])
    np.testing.assert_array_equal(stereo[0], stereo[1])
    np.testing.assert_allclose(stereo[0], x[0], atol=1 / 32768)  # PCM_16 by default


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.wav"
    audio.write(path, np.zeros((2, 100), np.float32), 8000)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(audio.sf, "write", broken)
    with pytest.raises(OSError):
        audio.write(path, np.ones((2, 100), np.float32), 8000)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.wav"]


def test_truncated_wav_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.wav"
    audio.write(path, music_like(1.0, 44100, 2), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.wav: truncated wav"):
        audio.read(path)


def test_unreadable_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(b"not audio at all")
    with pytest.raises(InputError, match="noise.wav"):
        audio.read(path)
    with pytest.raises(InputError, match="missing.flac: audio file not found"):
        audio.read(tmp_path / "missing.flac")


def test_write_and_read_in_a_folder_whose_name_is_not_utf8(tmp_path):
    """soundfile encodes str names strictly as UTF-8; a folder named with other bytes must still work."""
    folder = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9"))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 1000)).astype(np.float32)
    audio.write(os.path.join(folder, "x.wav"), x, 8000, "FLOAT")
    with audio.writer(Path(folder) / "y.wav", 8000, 2, "FLOAT") as write:
        write(x)
    for name in ("x.wav", "y.wav"):
        back, rate = audio.read(os.path.join(folder, name))
        np.testing.assert_array_equal(back, x)
        assert rate == 8000
