"""``python -m cunet.preprocess`` against damaged input, a full disk, a second writer, a killed run and the
umask, on the MUSDB18-HQ and Acappella layouts and the embedded dataset's default run. Every refusal is
one line naming the file (exit 2, no traceback) and leaves no half-written track in the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from commands import Result, hidden_leftovers, modes, run_module

from cunet import audio
from cunet.preprocess.__main__ import main
from cunet.store import Store

MUSIC_RATE = 16000  # not the store's 8192 Hz, so the resampling path is the one tested
STEMS = ("mixture", "vocals", "drums", "bass", "other")


def make_music(root: Path, tracks: dict[str, float], seed: int = 0) -> Path:
    """A MUSDB18-HQ tree of float noise stems whose mixture is their sum; ``tracks``: "train/Name" -> seconds."""
    rng = np.random.default_rng(seed)
    for rel, seconds in tracks.items():
        stems = {s: (0.1 * rng.standard_normal((2, int(seconds * MUSIC_RATE)))).astype(np.float32) for s in STEMS[1:]}
        stems["mixture"] = sum(stems.values())
        for stem, x in stems.items():
            audio.write(root / rel / f"{stem}.wav", x, MUSIC_RATE, "FLOAT")
    return root


MUSIC = {"train/A - One": 1.0, "train/B - Two": 3.0, "test/C - Three": 1.0}


def make_singing(root: Path, clips: dict[str, float] | None = None, seed: int = 0) -> Path:
    """An Acappella tree (float voices, blank faces) and its accompaniment tree under ``root``;
    ``clips``: "split/Language/Gender/id" -> seconds. Returns the acappella root."""
    rng = np.random.default_rng(seed)
    clips = clips or {"train/English/Female/sing_a": 1.0, "val_seen/English/Female/sing_b": 2.0}
    for rel, seconds in clips.items():
        split, rest = rel.split("/", 1)
        n_frames = round(seconds * 25)
        base = root / "acappella" / split
        audio.write(base / "audio" / f"{rest}.wav", 0.1 * rng.standard_normal(round(seconds * 16384)), 16384, "FLOAT")
        for kind, array in (
            ("frames", np.zeros((n_frames, 128, 96, 3), np.uint8)),
            ("landmarks", np.zeros((n_frames, 68, 2), np.int16)),
        ):
            (base / kind / rest).parent.mkdir(parents=True, exist_ok=True)
            np.save(base / kind / f"{rest}.npy", array)
    for split in ("unbalanced_train", "eval"):
        audio.write(
            root / "accompaniment" / split / "audio" / "Drum" / "drum_000.wav",
            0.1 * rng.standard_normal(22050),
            22050,
            "FLOAT",
        )
    return root / "acappella"


def music_args(root: Path, out: Path) -> list:
    return ["--dataset", "musdb", "--root", root, "--out", out, "--quiet", "--jobs", "1"]


def singing_args(root: Path, out: Path) -> list:
    return [
        "--dataset",
        "acappella",
        "--root",
        root,
        "--acc-root",
        root.parent / "accompaniment",
        "--out",
        out,
        "--quiet",
        "--jobs",
        "1",
    ]


def in_process(capsys, *args) -> Result:
    """The command's main in this process (no start-up cost), its exit code and output as a Result."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def leftovers(out: Path) -> list[Path]:
    """Temporaries in a store (each track's .source.json is hidden too, but is part of the track)."""
    return [p for p in hidden_leftovers(out) if p.name != ".source.json"]


def assert_nothing_half_written(out: Path) -> None:
    """No temporary left, no manifest, and every track folder there is whole."""
    assert leftovers(out) == []
    assert not (out / "manifest.json").exists()
    for track in (out / "tracks").iterdir() if (out / "tracks").is_dir() else ():
        assert (track / "track.json").is_file(), track


def write_float(path: Path, change) -> None:
    x, rate = audio.read(path)
    audio.write(path, change(x), rate, "FLOAT")


# 1. NaN or infinity in a float wav


def _poison(x, value):
    x = x.copy()
    x[-1, 1234] = value
    return x


@pytest.mark.parametrize("where", ["music stem", "voice", "accompaniment"])
def test_non_finite_samples_are_refused_naming_the_file_and_sample(tmp_path, capsys, where):
    value = np.nan if where != "voice" else np.inf
    if where == "music stem":
        root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "store"
        bad, args = root / "train/B - Two/vocals.wav", music_args(root, out)
        channel = 1
    else:
        root, out = make_singing(tmp_path / "s"), tmp_path / "store"
        bad = (
            root / "val_seen/audio/English/Female/sing_b.wav"
            if where == "voice"
            else root.parent / "accompaniment/eval/audio/Drum/drum_000.wav"
        )
        args, channel = singing_args(root, out), 0
    write_float(bad, lambda x: _poison(x, value))
    line = in_process(capsys, *args).refused(bad, "NaN or infinite")
    assert "sample 1234" in line and f"of channel {channel}" in line, line
    assert_nothing_half_written(out)


# 2. A track too short to hold one STFT frame


@pytest.mark.parametrize("where", ["music track", "voice", "accompaniment"])
def test_a_one_sample_file_is_refused_with_the_minimum_length(tmp_path, capsys, where):
    if where == "music track":
        root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "store"
        for stem in STEMS:
            audio.write(root / "train/B - Two" / f"{stem}.wav", np.zeros((2, 1), np.float32), MUSIC_RATE, "FLOAT")
        bad, args, need = root / "train/B - Two/mixture.wav", music_args(root, out), "at least 2000 samples"
    else:
        root, out = make_singing(tmp_path / "s"), tmp_path / "store"
        if where == "voice":
            bad = root / "train/audio/English/Female/sing_a.wav"
            audio.write(bad, np.zeros(1, np.float32), 16384, "FLOAT")
            for kind in ("frames", "landmarks"):  # 1 sample is no video frame at 25 fps
                path = root / "train" / kind / "English/Female/sing_a.npy"
                np.save(path, np.load(path)[:0])
            need = "at least 1022 samples"
        else:
            bad = root.parent / "accompaniment/unbalanced_train/audio/Drum/drum_000.wav"
            audio.write(bad, np.zeros(1, np.float32), 22050, "FLOAT")
            need = "at least 1376 samples"
        args = singing_args(root, out)
    line = in_process(capsys, *args).refused(bad, "too short", need)
    assert "STFT frame" in line
    assert not out.exists()  # found from the headers, before anything is written


# 3. A file name that is not UTF-8


@pytest.mark.parametrize("layout", ["musdb", "acappella"])
def test_names_that_are_not_utf8_are_stored_under_printable_names(tmp_path, capsys, layout):
    out = tmp_path / "store"
    if layout == "musdb":
        root = make_music(tmp_path / "m", MUSIC)
        os.rename(root / "train/B - Two", os.fsencode(root / "train") + b"/B \xff Two")
        args, kind = music_args(root, out), "music"
    else:
        root = make_singing(tmp_path / "s")
        for sub, ext in (("audio", "wav"), ("frames", "npy"), ("landmarks", "npy")):
            folder = os.fsencode(root / "train" / sub / "English/Female")
            os.rename(folder + f"/sing_a.{ext}".encode(), folder + f"/B \xff Two.{ext}".encode("latin-1"))
        args, kind = singing_args(root, out), "singing"
    result = in_process(capsys, *args)
    assert result.code == 0, result.err
    entry = next(t for t in manifest(out)["tracks"] if "Two" in t["name"])
    assert entry["name"] == "B \\xff Two" and entry["folder"] == "tracks/B_xff_Two"
    store = Store(out, kind)
    name = "vocals" if layout == "musdb" else "voice"
    assert store.array([t.name for t in store.tracks].index(entry["name"]), name).size > 0


# 4. Two tracks, one store folder


@pytest.mark.parametrize("layout", ["musdb", "acappella"])
def test_two_names_for_one_store_folder_name_both_tracks(tmp_path, capsys, layout):
    out = tmp_path / "store"
    if layout == "musdb":
        root = make_music(tmp_path / "m", {**MUSIC, "train/A_-_One": 1.0})
        first, second, args = root / "train/A - One", root / "train/A_-_One", music_args(root, out)
    else:
        root = make_singing(tmp_path / "s")
        drums = root.parent / "accompaniment/unbalanced_train/audio/Drum"
        first, second = drums / "drum_000.wav", drums / "drum_000.flac"  # one clip name, two formats
        audio.write(second, np.zeros(4000, np.float32), 22050)
        args = singing_args(root, out)
    in_process(capsys, *args).refused(first, second, "same store folder")
    assert not out.exists()


# 5. A file the user may not read


@pytest.mark.parametrize("layout", ["musdb", "acappella"])
def test_an_unreadable_file_is_named(tmp_path, layout):
    out = tmp_path / "store"
    if layout == "musdb":
        root = make_music(tmp_path / "m", MUSIC)
        bad, args = root / "train/B - Two/drums.wav", music_args(root, out)
    else:
        root = make_singing(tmp_path / "s")
        bad, args = root / "val_seen/frames/English/Female/sing_b.npy", singing_args(root, out)
    bad.chmod(0)
    run_module("cunet.preprocess", *args, unprivileged=True).refused(bad, "ermission denied")
    assert not out.exists()


# 6. --out names a file


@pytest.mark.parametrize("layout", ["musdb", "synthetic"])
def test_out_that_is_a_file_is_refused(tmp_path, capsys, layout):
    out = tmp_path / "notes.txt"
    out.write_text("precious")
    if layout == "musdb":
        args = music_args(make_music(tmp_path / "m", MUSIC), out)
    else:  # refused before the embedded dataset would be generated
        args = ["--root", tmp_path / "never", "--out", out, "--size", "tiny", "--quiet"]
    in_process(capsys, *args).refused(out, "not a folder")
    assert out.read_text() == "precious" and not (tmp_path / "never").exists()


# 7. The disk fills up


@pytest.mark.parametrize("layout", ["musdb", "acappella"])
def test_a_full_disk_names_the_file_leaves_whole_tracks_and_a_rerun_completes(tmp_path, layout):
    out = tmp_path / "store"
    if layout == "musdb":
        # A's stems (1 s: 33 frames, 135 kB each) fit under the limit, B's (3 s: 398 kB) do not.
        args, limit = music_args(make_music(tmp_path / "m", MUSIC), out), 200_000
        done, failed = "tracks/A_-_One", "tracks/B_-_Two/mixture.npy"
    else:
        # sing_a's frames (1 s: 0.9 MB) fit, sing_b's (2 s: 1.8 MB) do not.
        args, limit = singing_args(make_singing(tmp_path / "s"), out), 1_200_000
        done, failed = "tracks/sing_a", "tracks/sing_b/frames.npy"
    line = run_module("cunet.preprocess", *args, file_limit=limit).refused(out / failed)
    assert "too large" in line or "is the disk full" in line, line
    assert_nothing_half_written(out)
    assert (out / done / "track.json").is_file() and not (out / failed).parent.exists()
    result = run_module("cunet.preprocess", *args)
    assert result.code == 0, result.err
    assert len(Store(out).tracks) == (3 if layout == "musdb" else 2) and leftovers(out) == []


# 8 and 10. One writer per store; shards together; a killed writer blocks nothing and leaves nothing


HOLDER = textwrap.dedent("""
    import sys, time
    from cunet.preprocess import spectrogram
    from cunet.preprocess.__main__ import main

    def stuck(track, folder):  # a run caught part-way through a track
        (folder / "mixture.npy").write_bytes(b"half")
        print("writing", flush=True)
        time.sleep(300)

    spectrogram.write_track = stuck
    sys.exit(main(sys.argv[1:]))
""")


def hold(args) -> subprocess.Popen:
    """A preprocess run stopped inside its first track (it holds the store), until it is killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.stdout.readline().strip() == "writing"
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


def test_one_writer_a_time_and_a_killed_writer_leaves_nothing_behind(tmp_path):
    root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "musdb"
    args = music_args(root, out)
    holder = hold(args)
    try:
        run_module("cunet.preprocess", *args).refused(out, f"in use by process {holder.pid}")
        run_module("cunet.preprocess", *args, "--shard", "1/2").refused(out, f"in use by process {holder.pid}")
        # the embedded dataset's default run, whose music store is this one, stops before generating anything
        run_module(
            "cunet.preprocess", "--root", tmp_path / "gen", "--out", tmp_path, "--size", "tiny", "--quiet"
        ).refused(out, f"in use by process {holder.pid}")
        assert not (tmp_path / "gen").exists()
    finally:
        kill(holder)
    assert leftovers(out), "the killed run should have left its temporary track folder"
    result = run_module("cunet.preprocess", *args)
    assert result.code == 0, result.err
    assert leftovers(out) == [] and len(manifest(out)["tracks"]) == 3


def test_shards_write_one_store_together(tmp_path):
    root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "store"
    args = music_args(root, out)
    holder = hold([*args, "--shard", "0/2"])  # tracks 0 and 2
    try:
        other = run_module("cunet.preprocess", *args, "--shard", "1/2")  # track 1, meanwhile
        assert other.code == 0 and "not written yet" in other.out, other.err
        assert (out / "tracks/B_-_Two/track.json").is_file()
        run_module("cunet.preprocess", *args, "--shard", "0/2").refused(out, f"in use by process {holder.pid}")
        run_module("cunet.preprocess", *args).refused(out, "in use by process")
    finally:
        kill(holder)
    result = run_module("cunet.preprocess", *args, "--shard", "0/2")
    assert result.code == 0, result.err
    assert len(manifest(out)["tracks"]) == 3 and leftovers(out) == []


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path, capsys):
    root = make_singing(tmp_path / "s")
    out = tmp_path / "store"
    assert in_process(capsys, *singing_args(root, out)).code == 0
    from commands import dead_pid

    from cunet.fileio import temporary_dir, temporary_prefix

    dead = dead_pid()
    places = [out, out / "indexes", out / "tracks", out / "accompaniment/unbalanced_train/Drum"]
    left = [p / f"{temporary_prefix('x', dead)}abc" for p in places]
    for p in left:
        p.mkdir()
    (out / f"{temporary_prefix('manifest', dead)}abc.json").write_text("{")
    with temporary_dir(out / "tracks", "y") as live:  # another writer, still at work (it holds its lock)
        (out / "tracks/sing_a/track.json").unlink()  # one clip to redo, so the run writes again
        assert in_process(capsys, *singing_args(root, out)).code == 0
        assert leftovers(out) == [live]


# 9. The umask


# 0o027 asks for 0o640 files and 0o750 folders: a temporary file's 0o600 left in place, or a fixed 0o644
# whatever the umask, both fail it
@pytest.mark.parametrize("layout,mask", [("musdb", 0o027), ("acappella", 0o027)])
def test_store_modes_follow_the_umask(tmp_path, layout, mask):
    out = tmp_path / "store"
    args = (
        music_args(make_music(tmp_path / "m", MUSIC), out)
        if layout == "musdb"
        else singing_args(make_singing(tmp_path / "s"), out)
    )
    result = run_module("cunet.preprocess", *args, umask=mask)
    assert result.code == 0, result.err
    found = modes(out)
    assert {m for p, m in found.items() if p.is_file()} == {0o666 & ~mask}
    assert {m for p, m in found.items() if p.is_dir()} == {0o777 & ~mask}
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


# 11. A mixture that is not the sum of its stems


def test_a_mixture_that_is_not_the_sum_is_kept_with_a_warning(tmp_path, capsys):
    root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "store"
    track = root / "train/B - Two"
    vocals, _ = audio.read(track / "vocals.wav")
    write_float(track / "mixture.wav", lambda x: x - 0.5 * vocals)  # half the vocals missing from the mix
    result = in_process(capsys, *music_args(root, out))
    assert result.code == 0, result.err
    [warning] = [line for line in result.err.splitlines() if "not the sum" in line]
    assert "B - Two" in warning and "A - One" not in warning and " dB" in warning
    listed = manifest(out)["mixture_not_sum"]["tracks"]
    assert [t["name"] for t in listed] == ["B - Two"]
    # 0.5 of one of four independent, equally loud stems against what is left: 0.25 / 3.25 of the energy
    assert listed[0]["difference_db"] == pytest.approx(10 * np.log10(0.25 / 3.25), abs=0.3)
    assert f"{listed[0]['difference_db']:+.1f} dB" in warning
    clean = next(t for t in manifest(out)["tracks"] if t["name"] == "A - One")
    assert clean["mixture_difference_db"] is None or clean["mixture_difference_db"] < -100


# 12. A stem at another rate or length, an empty wav


@pytest.mark.parametrize("damage", ["rate", "length", "empty"])
def test_a_stem_unlike_its_track_or_empty_is_named(tmp_path, capsys, damage):
    root, out = make_music(tmp_path / "m", MUSIC), tmp_path / "store"
    bad = root / "train/B - Two/bass.wav"
    if damage == "rate":  # was refused only after other tracks were written, naming the track folder
        x, _ = audio.read(bad)
        audio.write(bad, x, MUSIC_RATE // 2, "FLOAT")
        problem = f"sample rate {MUSIC_RATE // 2} Hz"
    elif damage == "length":  # named the track folder, not the stem
        write_float(bad, lambda x: x[:, :-7])
        problem = "stems differ in length"
    else:
        bad.write_bytes(b"")
        problem = "empty file"
    in_process(capsys, *music_args(root, out)).refused(bad, problem)
    assert not out.exists()
