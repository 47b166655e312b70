"""cunet-separate, results and export against what users' files and machines do: tiny and oddly named
inputs, symbolic-link loops, outputs that cannot be written, full disks, foreign model files, a separation
killed outright, the umask. Each refusal is one line naming the file, exit 2, and nothing half-written."""

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from commands import hidden_leftovers, modes, run_module
from test_separate import GAINS, _save_run, _song, gain_run  # noqa: F401  (module fixture)

from cunet import audio
from cunet import config as config_io
from cunet.models import ModelConfig
from cunet.separation.__main__ import main
from cunet.separation.inputs import find_inputs

TARGETS = ("bass", "drums", "other", "vocals")
EXACT = ["--precision", "float32"]  # the stand-in's gains exactly


def _wav(path: Path, seconds: float = 0.5, rate: int = 44100) -> Path:
    audio.write(path, _song(seconds, rate), rate, "FLOAT")
    return path


def _error_line(text: str) -> str:
    lines = [s for s in text.splitlines() if s.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# --- separate: inputs ---------------------------------------------------------------------------------


def test_a_one_sample_input_gives_one_sample_stems(gain_run, tmp_path):
    """A legitimate, very short input is separated: its stems are as long as it, one sample."""
    for rate, channels in ((44100, 2), (8192, 1)):
        x = np.full((channels, 1), 0.5, np.float32)
        audio.write(tmp_path / f"one{rate}.wav", x, rate, "FLOAT")
        assert (
            main([str(gain_run), str(tmp_path / f"one{rate}.wav"), "-o", str(tmp_path / "out"), "--quiet", *EXACT]) == 0
        )
        for target in TARGETS:
            y, got_rate = audio.read(tmp_path / "out" / f"one{rate}" / f"{target}.wav")
            assert got_rate == rate and y.shape == x.shape
            np.testing.assert_allclose(y, GAINS[target] * x, atol=1e-4)


def test_a_file_name_that_is_not_utf8_is_separated_under_its_own_bytes(gain_run, tmp_path, capfd):
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    x = _song(0.5)
    audio.write(tmp_path / "plain.wav", x, 44100, "FLOAT")
    os.rename(os.fsencode(tmp_path / "plain.wav"), folder + b"/caf\xe9.wav")
    assert main([str(gain_run), str(tmp_path / "in"), "-o", str(tmp_path / "out"), *EXACT]) == 0
    out = capfd.readouterr().out
    assert "caf\\xe9.wav" in out  # printed readably, where printing the name as it is would fail
    assert os.listdir(os.fsencode(tmp_path / "out")) == [b"caf\xe9"]  # named from the input's own bytes
    y, _ = audio.read(os.fsdecode(os.fsencode(tmp_path / "out") + b"/caf\xe9/vocals.wav"))
    np.testing.assert_allclose(y, GAINS["vocals"] * x, atol=1e-4)


def test_symlink_loops_are_walked_once_and_each_real_file_is_separated_once(gain_run, tmp_path):
    songs = tmp_path / "songs"
    _wav(songs / "a.wav")
    _wav(songs / "disc" / "b.wav")
    _wav(tmp_path / "elsewhere" / "c.wav")
    (songs / "loop").symlink_to(".")  # two loops in one folder: 2^40 paths for glob's **
    (songs / "disc" / "up").symlink_to("..")
    (songs / "elsewhere").symlink_to(tmp_path / "elsewhere")  # a linked folder, no loop: followed
    (songs / "again.wav").symlink_to(songs / "a.wav")  # one real file under two names
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the search for inputs does not end"))
    signal.alarm(60)
    try:
        for specs in (
            [str(songs)],
            [str(songs / "**" / "*.wav")],
            [str(songs), str(songs / "**/*.wav"), str(songs / "disc")],
        ):
            found = find_inputs(specs)
            assert sorted(p.resolve().name for p in found) == ["a.wav", "b.wav", "c.wav"], (specs, found)
        assert find_inputs([str(songs / "*" / "*.wav")])  # a glob without ** as glob has it
    finally:
        signal.alarm(0)
    out = tmp_path / "out"
    assert main([str(gain_run), str(songs / "**" / "*.wav"), "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c"]


# --- separate: outputs ------------------------------------------------------------------------------------


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(gain_run, tmp_path, capsys):
    song = _wav(tmp_path / "a.wav")
    (tmp_path / "taken").write_text("mine")
    for out, named in ((tmp_path / "taken", "taken"), (tmp_path / "taken" / "below", "taken")):
        assert main([str(gain_run), str(song), "-o", str(out), "--quiet"]) == 2
        line = _error_line(capsys.readouterr().err)
        assert str(tmp_path / named) in line and "is a file" in line, line
    assert (tmp_path / "taken").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "taken"]
    # a stem whose folder would have to replace a file, or whose name is a folder
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a").write_text("mine")
    assert main([str(gain_run), str(song), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    assert str(tmp_path / "out" / "a") in _error_line(capsys.readouterr().err)
    assert os.listdir(tmp_path / "out") == ["a"]


def test_an_unreadable_input_is_named_and_nothing_is_written(gain_run, tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    _wav(tmp_path / "in" / "b.wav").chmod(0)
    result = run_module(
        "cunet.separation", gain_run, tmp_path / "in", "-o", tmp_path / "out", "--quiet", unprivileged=True
    )
    result.refused(tmp_path / "in" / "b.wav")
    assert not (tmp_path / "out").exists()  # not even a.wav's stems: every input is read before writing


def test_a_full_disk_is_named_and_leaves_no_partial_stem(gain_run, tmp_path):
    _wav(tmp_path / "a.wav", 1.0)  # each float stem 350 kB: past the 100 kB limit part-way
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.txt").write_text("kept")
    result = run_module(
        "cunet.separation", gain_run, tmp_path / "a.wav", "-o", tmp_path / "out", "--quiet", file_limit=100_000
    )
    line = result.refused(tmp_path / "out" / "a")
    assert "could not be written" in line and "disk" in line, line
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "out").rglob("*")) == ["out/earlier.txt"]
    assert not hidden_leftovers(tmp_path)


def test_a_separation_killed_outright_leaves_temporaries_the_next_run_removes(gain_run, tmp_path):
    long = tmp_path / "long.wav"
    audio.write(
        long, (0.1 * np.random.default_rng(0).standard_normal((2, 60 * 44100))).astype(np.float32), 44100, "FLOAT"
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cunet.separation", str(gain_run), str(long), "-o", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )

    def writing() -> bool:  # the float stems are open in the hidden folder
        return out.is_dir() and any(p.is_file() for p in hidden_leftovers(out))

    try:
        deadline = time.monotonic() + 120
        while not writing() and proc.poll() is None:
            assert time.monotonic() < deadline, "the separation never started writing"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stale = [p for p in out.iterdir() if p.name.startswith(".")]
    from cunet.fileio import TEMP_MARK, host, temporary_dir

    assert stale and all(f"{TEMP_MARK}{host()}_{proc.pid}-" in p.name for p in stale), stale  # SIGKILL's leftovers
    with temporary_dir(out, "cunet") as live:  # a writer still at work (this process holds its lock): kept
        assert main([str(gain_run), str(_wav(tmp_path / "b.wav")), "-o", str(out), "--quiet"]) == 0
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [live.name]
        assert sorted(p.name for p in (out / "b").iterdir()) == [f"{t}.wav" for t in TARGETS]


# One umask tells both usual faults apart: 0o027 asks for 0o640 files and 0o750 folders, so a file left with
# a temporary file's 0o600, or given a fixed 0o644 whatever the umask, is caught.
UMASK, FILE_MODE, FOLDER_MODE = 0o027, 0o640, 0o750


def test_outputs_respect_the_umask(gain_run, tmp_path, umask=UMASK, file_mode=FILE_MODE, folder_mode=FOLDER_MODE):
    song = _wav(tmp_path / "a.wav")
    before = os.umask(umask)
    try:
        for template in ("{name}/{target}.wav", "{target}/{name}.flac"):  # renamed float stems; transcoded
            assert (
                main([str(gain_run), str(song), "-o", str(tmp_path / "out" / "new"), "--quiet", "--template", template])
                == 0
            )
    finally:
        os.umask(before)
    found = {tmp_path / "out": (tmp_path / "out").stat().st_mode & 0o777, **modes(tmp_path / "out")}
    assert len(found) == 2 + 1 + len(TARGETS) + 2 * len(TARGETS)  # out/new/, a/ and its stems, {target}/a.flac
    for path, mode in found.items():
        assert mode == (folder_mode if path.is_dir() else file_mode), (path, oct(mode))


def test_templates_that_escape_or_collide_are_refused(gain_run, tmp_path, capsys):
    song = _wav(tmp_path / "a.wav")
    for template, message in (
        (str(tmp_path / "abs" / "{name}" / "{target}.wav"), "outside the output folder"),
        ("{name}/{target}/../one.wav", "two stems one file name"),
    ):
        assert main([str(gain_run), str(song), "-o", str(tmp_path / "out"), "--quiet", "--template", template]) == 2
        assert message in _error_line(capsys.readouterr().err), template
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


# --- separate: the model ---------------------------------------------------------------------------------


def test_a_file_that_is_no_model_or_a_config_that_disagrees_is_named(gain_run, tmp_path, capsys):
    song = _wav(tmp_path / "a.wav")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    archive = tmp_path / "other" / "model.keras"  # a zip, not a Keras archive
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    config_io.save(ModelConfig(model="cunet", control="cnn"), archive.parent / "model_config.json")
    # the stand-in's network under a config whose condition is laid out the other way
    dense = tmp_path / "dense"
    dense.mkdir()
    shutil.copy(gain_run / "model.keras", dense / "model.keras")
    config_io.save(ModelConfig(model="cunet", control="dense"), dense / "model_config.json")
    # a one-input network (a U-Net's) under a C-U-Net's config
    unet = tmp_path / "unet"
    unet.mkdir()
    mag = keras.Input((512, 128, 1), name="magnitude")
    _save_run(keras.Model(mag, keras.layers.Multiply()([mag, mag])), ModelConfig(model="cunet", control="cnn"), unet)
    for model, named, message in (
        (junk, junk, "is not a Keras model file"),
        (song, song, "is not a Keras model"),
        (archive.parent, archive, "is a zip archive but not a Keras model: it lacks"),
        (dense, dense / "model_config.json", "disagrees with model.keras"),
        (unet, unet / "model_card.json", "disagrees with model.keras"),
    ):
        assert main([str(model), str(song), "-o", str(tmp_path / "out"), "--quiet"]) == 2
        line = _error_line(capsys.readouterr().err)
        assert f"error: {named}: {message}" in line, line
        assert "keras.src" not in line and "Please ensure" not in line
    assert not (tmp_path / "out").exists()


# --- results and export -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scored_run(gain_run, tmp_path_factory) -> Path:
    """The stand-in C-U-Net as a finished run trained on a store of one 1-s test track."""
    from conftest import make_musdb

    from cunet.preprocess.__main__ import main as preprocess
    from cunet.train.config import TrainConfig

    base = tmp_path_factory.mktemp("scored")
    root = make_musdb(base / "musdb", ["A - One", "B - Two"], ["C - Three"], seconds=1.0)
    assert (
        preprocess(["--dataset", "musdb", "--root", str(root), "--out", str(base / "store"), "--jobs", "1", "--quiet"])
        == 0
    )
    run = base / "run"
    shutil.copytree(gain_run, run)
    config_io.save(
        TrainConfig(model=ModelConfig(model="cunet", control="cnn"), store=str(base / "store")), run / "config.json"
    )
    return run


RESULTS = ["--max-tracks", "1", "--no-v4", "--protocol", "paper", "--report-tracks", "1", "--quiet"]


def test_results_refuse_an_out_that_is_a_file_or_may_not_be_written_before_scoring(scored_run, tmp_path, capsys):
    from cunet.evaluation.results import main as results

    (tmp_path / "taken").write_text("mine")
    assert results(["--runs", str(scored_run), *RESULTS, "--out", str(tmp_path / "taken")]) == 2
    assert (tmp_path / "taken").read_text() == "mine"
    assert _error_line(capsys.readouterr().err).startswith(f"error: {tmp_path / 'taken'}: is a file")
    (tmp_path / "locked").mkdir(mode=0o555)
    result = run_module(
        "cunet.evaluation.results",
        "--runs",
        scored_run,
        *RESULTS,
        "--out",
        tmp_path / "locked" / "results",
        unprivileged=True,
        timeout=120,
    )
    assert "may not be written" in result.refused(tmp_path / "locked")
    assert not os.listdir(tmp_path / "locked")


def test_results_files_follow_the_umask(scored_run, tmp_path, umask=UMASK, file_mode=FILE_MODE, dir_mode=FOLDER_MODE):
    result = run_module(
        "cunet.evaluation.results", "--runs", scored_run, *RESULTS, "--out", tmp_path / "res", umask=umask, cwd=tmp_path
    )
    assert result.code == 0, result.err[-2000:]
    found = {tmp_path / "res": (tmp_path / "res").stat().st_mode & 0o777, **modes(tmp_path / "res")}
    assert any(p.suffix == ".mp3" for p in found) and any(p.suffix == ".csv" for p in found)
    for path, mode in found.items():
        assert mode == (dir_mode if path.is_dir() else file_mode), (path, oct(mode))


def test_results_on_a_full_disk_are_named_and_leave_nothing(scored_run, tmp_path):
    result = run_module(
        "cunet.evaluation.results",
        "--runs",
        scored_run,
        *RESULTS,
        "--out",
        tmp_path / "res",
        file_limit=20_000,
        cwd=tmp_path,
    )
    assert "could not be written" in result.refused(tmp_path / "res")
    assert os.listdir(tmp_path) == [] and not hidden_leftovers(tmp_path)


def test_export_refuses_unwritable_outputs_and_a_full_disk_leaves_nothing(gain_run, tmp_path, capsys):
    from cunet.evaluation.export import main as export

    (tmp_path / "taken").write_text("mine")
    assert export([str(gain_run), "-o", str(tmp_path / "taken")]) == 2
    assert f"error: {tmp_path / 'taken'}: is a file" in _error_line(capsys.readouterr().err)
    (tmp_path / "locked").mkdir(mode=0o555)
    result = run_module(
        "cunet.evaluation.export", gain_run, "-o", tmp_path / "locked" / "export", unprivileged=True, timeout=120
    )
    assert "may not be written" in result.refused(tmp_path / "locked")
    result = run_module("cunet.evaluation.export", gain_run, "-o", tmp_path / "export", file_limit=4000)
    assert "could not be written" in result.refused(tmp_path / "export")
    assert sorted(os.listdir(tmp_path)) == ["locked", "taken"] and not hidden_leftovers(tmp_path)
    assert not os.listdir(tmp_path / "locked")


def test_a_whole_folder_write_removes_what_a_killed_writer_of_it_left(tmp_path):
    """results and export write their folder whole beside itself: a run killed there leaves a hidden
    temporary folder, which the next write of the same folder removes (a live writer's, or another
    folder's, stays; one that no writer holds goes, whatever host its name gives)."""
    from commands import dead_pid

    from cunet.fileio import TEMP_MARK, atomic_dir, temporary_dir, temporary_prefix

    pid = dead_pid()
    left = tmp_path / f"{temporary_prefix('results', pid)}abc"
    other = tmp_path / f"{temporary_prefix('export', pid)}abc"
    with temporary_dir(tmp_path, "results") as live:  # its writer (this process) holds its lock
        elsewhere = tmp_path / f".results{TEMP_MARK}anotherhost_{pid}-abc"  # a writer on another machine: dead too
        for folder in (left, other, live, elsewhere):  # when it holds no lock
            (folder / "listen").mkdir(parents=True)
        (tmp_path / "results").mkdir()
        (tmp_path / "results" / "summary.md").write_text("old\n")
        with atomic_dir(tmp_path / "results", clean_stale=True) as tmp:
            (tmp / "summary.md").write_text("done\n")
        assert not left.exists() and other.exists() and live.exists() and not elsewhere.exists()
        assert (tmp_path / "results" / "summary.md").read_text() == "done\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, live.name, "results"])


def test_results_and_export_never_replace_someone_elses_folder(scored_run, gain_run, tmp_path, capsys):
    """Both write their folder whole and rename it into place, over an older one of theirs; a folder that
    holds other files is refused before any work, and kept."""
    from cunet.evaluation.export import main as export
    from cunet.evaluation.results import main as results

    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("keep")
    assert results(["--runs", str(scored_run), *RESULTS, "--out", str(theirs)]) == 2
    assert _error_line(capsys.readouterr().err) == (
        f"error: {theirs}: exists and is not a results folder: choose another --out (nothing was written)"
    )
    assert export([str(gain_run), "-o", str(theirs)]) == 2
    assert "exists and is not a cunet export folder" in _error_line(capsys.readouterr().err)
    assert sorted(p.name for p in theirs.iterdir()) == ["thesis.tex"]
