"""python -m cunet.train against bad input: damaged stores, contended, moved, damaged or full run folders.

Each refusal is one line naming the file (exit 2, no traceback) with nothing half-written; each recovery
ends in a run folder that loads. Training runs are tiny (4 first filters, 1 step of 1 example an epoch).
"""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
from commands import Result, dead_pid, hidden_leftovers, modes, run_module
from conftest import copy_tree, make_musdb

from cunet import config as config_io
from cunet.errors import InputError
from cunet.fileio import TEMP_MARK, temporary_dir, temporary_prefix
from cunet.train.__main__ import main as train_main
from cunet.train.config import TrainConfig

RUNS = pytest.mark.xdist_group("train_robust_runs")  # the tests sharing finished_run and partial_run
# A dedicated U-Net is the cheapest model to trace; what these tests check does not depend on the model.
TINY = ["--model", "unet", "--set", "model.first_filters=4", "--steps", "1", "--batch-size", "1", "--quiet"]


def music_args(store, run, epochs=1, *extra):
    return [*TINY, "--store", str(store), "--run-dir", str(run), "--epochs", str(epochs), *extra]


def in_process(capsys, argv) -> Result:
    code = train_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def history_epochs(run) -> list[int]:
    header, *rows = (run / "history.csv").read_text().splitlines()
    assert header.startswith("epoch,")
    return [int(row.split(",")[0]) for row in rows]


def snapshot(folder) -> dict:
    """Every file's bytes and modification time below ``folder`` (the lock file aside)."""
    return {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".cunet.lock")
    }


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt  # as a user's Ctrl-C would, once the first epoch's checkpoint is written


@pytest.fixture(scope="module")
def finished_run(tiny_stores, tmp_path_factory):
    """A finished 1-epoch U-Net run, written under umask 022 (shared: copy it before damaging it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    old = os.umask(0o022)
    try:
        assert train_main(music_args(tiny_stores / "musdb", run)) == 0
    finally:
        os.umask(old)
    return run


@pytest.fixture(scope="module")
def partial_run(tiny_stores, tmp_path_factory):
    """A 2-epoch run stopped after its first epoch, written under umask 077 (shared: copy it first)."""
    from cunet.train.__main__ import parse_args, resolve
    from cunet.train.main import train

    run = tmp_path_factory.mktemp("partial") / "run"
    cfg = resolve(parse_args(music_args(tiny_stores / "musdb", run, 2)))
    old = os.umask(0o077)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, verbose=0, callbacks=[StopAfterFirstEpoch()])
    finally:
        os.umask(old)
    assert (run / "checkpoints" / "last.keras").is_file() and not (run / "model.keras").exists()
    return run


# -- one writer per run folder ---------------------------------------------------------------------------------


def wait_for_lock(proc, run, timeout=240):
    """Until ``proc`` holds the run folder's lock (it writes its pid into the lock file once it does)."""
    lock = run / ".cunet.lock"
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.returncode
        if lock.is_file() and lock.read_text().split()[:1] == [str(proc.pid)]:
            return
        time.sleep(0.05)
    raise AssertionError("the training never took the lock")


@pytest.mark.slow
def test_second_writer_stops_at_once_and_the_first_finishes(tiny_stores, tmp_path, capsys):
    run = tmp_path / "run"
    argv = music_args(tiny_stores / "musdb", run, 2)
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen([sys.executable, "-m", "cunet.train", *argv], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_lock(first, run)
        os.kill(first.pid, signal.SIGSTOP)  # holding the lock, mid-run, for as long as the second one takes
        try:
            second = in_process(capsys, argv)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.refused(run, f"in use by process {first.pid}")
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
    assert history_epochs(run) == [0, 1]  # undisturbed: exactly one row per epoch
    keras.saving.load_model(run / "model.keras", safe_mode=True)


@pytest.mark.slow
def test_lock_of_a_killed_run_does_not_block_the_next(tiny_stores, tmp_path, capsys):
    run = tmp_path / "run"
    argv = music_args(tiny_stores / "musdb", run)
    killed = subprocess.Popen(
        [sys.executable, "-m", "cunet.train", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_lock(killed, run)
    killed.kill()
    killed.wait()
    assert in_process(capsys, argv).code == 0
    assert history_epochs(run) == [0]
    keras.saving.load_model(run / "model.keras", safe_mode=True)


# -- damaged stores: refused before anything is written -------------------------------------------------------


def _delete_stem(store):
    path = store / "tracks" / "Cunet_Synth_-_Song_000" / "vocals.npy"
    path.unlink()
    return [path, "file not found", "Cunet Synth - Song 000"]


def _truncate_stem(store):
    path = store / "tracks" / "Cunet_Synth_-_Song_001" / "mixture.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return [path, "truncated", "Cunet Synth - Song 001"]


def _drop_manifest_key(store):
    manifest = json.loads((store / "manifest.json").read_text())
    del manifest["indexes"]
    (store / "manifest.json").write_text(json.dumps(manifest))
    return [store / "manifest.json", "'indexes'"]


def _drop_track_key(store):
    manifest = json.loads((store / "manifest.json").read_text())
    del manifest["tracks"][1]["n_frames"]
    (store / "manifest.json").write_text(json.dumps(manifest))
    return [store / "manifest.json", "'n_frames'", "tracks[1]"]


def _unknown_track_key(store):  # a key the format does not have: a newer writer's, or a typo
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["tracks"][2]["n_frame"] = 10
    (store / "manifest.json").write_text(json.dumps(manifest))
    return [store / "manifest.json", "'n_frame'", "tracks[2]"]


def _negative_track_length(store):
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["tracks"][0]["n_samples"] = -5
    (store / "manifest.json").write_text(json.dumps(manifest))
    return [store / "manifest.json", "'n_samples' is -5, not a finite number >= 0", "tracks[0]"]


def _index_past_the_end(store):
    rows = np.load(store / "indexes" / "train.npy")
    rows[-1, 1] += 200  # past the end of the last training track
    np.save(store / "indexes" / "train.npy", rows)
    name = json.loads((store / "manifest.json").read_text())["tracks"][int(rows[-1, 0])]["name"]
    return [store / "indexes" / "train.npy", name, "past the end"]


def _nan_in_a_stem(store):
    path = store / "tracks" / "Cunet_Synth_-_Song_002" / "drums.npy"  # a validation track
    spec = np.load(path, mmap_mode="r+")
    spec[100, 7] = np.nan
    spec.flush()
    return [path, "NaN or infinite", "Cunet Synth - Song 002"]


def _inf_in_a_test_track(store):
    path = store / "tracks" / "Cunet_Synth_-_Test_Song_003" / "bass.npy"
    spec = np.load(path, mmap_mode="r+")
    spec[-1, -1] = np.inf
    spec.flush()
    return [path, "NaN or infinite", "Cunet Synth - Test Song 003"]


def _nan_max_magnitude(store):
    text = (store / "manifest.json").read_text()
    manifest = json.loads(text)
    manifest["tracks"][0]["stem_max_magnitude"]["mixture"] = float("nan")  # json writes NaN, and reads it
    (store / "manifest.json").write_text(json.dumps(manifest))
    return [store / "manifest.json", "nan", "stem_max_magnitude"]


@pytest.mark.parametrize(
    "damage",
    [
        _delete_stem,
        _truncate_stem,
        _drop_manifest_key,
        _drop_track_key,
        _unknown_track_key,
        _negative_track_length,
        _index_past_the_end,
        _nan_in_a_stem,
        _inf_in_a_test_track,
        _nan_max_magnitude,
    ],
)
def test_damaged_music_store_is_refused_naming_the_file(tiny_stores, tmp_path, capsys, damage):
    store = copy_tree(tiny_stores / "musdb", tmp_path / "store")
    names = damage(store)
    run = tmp_path / "run"
    in_process(capsys, music_args(store, run)).refused(*names)
    assert not run.exists()  # checked before the run folder is made


def test_damaged_singing_store_is_refused_naming_the_file(tiny_stores, tmp_path, capsys):
    store = copy_tree(tiny_stores / "acappella", tmp_path / "store")
    manifest = json.loads((store / "manifest.json").read_text())
    clip = next(a for a in manifest["accompaniment"] if a["split"] == "unbalanced_train")
    audio = np.load(store / clip["folder"] / "audio.npy", mmap_mode="r+")
    audio[1000] = np.inf
    audio.flush()
    run = tmp_path / "run"
    argv = ["--model", "ynet", "--visual", "landmarks", "--store", store, "--run-dir", run, "--quiet"]
    in_process(capsys, argv).refused(store / clip["folder"] / "audio.npy", "NaN or infinite", clip["name"])
    rows = np.load(store / "indexes" / "train.npy")
    rows[0, 1] = 10_000  # (the indexes are checked before the arrays: this is the refusal now)
    np.save(store / "indexes" / "train.npy", rows)
    in_process(capsys, argv).refused(store / "indexes" / "train.npy", manifest["tracks"][rows[0, 0]]["name"])
    assert not run.exists()


def test_input_error_inside_the_pipeline_surfaces_as_itself(tiny_stores, tmp_path, monkeypatch):
    """Should a store array go missing after the start-up check, fit raises the InputError naming it, not
    a TensorFlow error carrying a traceback's text."""
    from cunet.store import Store
    from cunet.train.__main__ import parse_args, resolve
    from cunet.train.main import train

    store = copy_tree(tiny_stores / "musdb", tmp_path / "store")
    for stem in store.glob("tracks/*/mixture.npy"):
        stem.unlink()
    monkeypatch.setattr(Store, "check", lambda self, values=True: None)  # as if gone since the check
    monkeypatch.setattr(Store, "check_values", lambda self: None)
    cfg = resolve(parse_args(music_args(store, tmp_path / "run")))
    with pytest.raises(InputError) as caught:
        train(cfg, verbose=0)
    assert caught.value.problem == "file not found"  # what the loader's read says (the check words it otherwise)
    assert caught.value.path.startswith(str(store / "tracks")) and caught.value.path.endswith("mixture.npy")


# -- tracks shorter than a patch ------------------------------------------------------------------------------


def test_tracks_shorter_than_a_patch_are_skipped_and_recorded(tmp_path, capsys):
    from cunet.preprocess.__main__ import main as preprocess_main
    from cunet.store import Store
    from cunet.train import example_sources

    root = make_musdb(tmp_path / "musdb", ["A - One", "B - Two"], ["D - Four"], seconds=4.5)
    make_musdb(root, ["S - Short"], [], seconds=1.0, seed=1)  # 33 frames: no 128-frame patch
    store = tmp_path / "store"
    assert (
        preprocess_main(
            [
                "--dataset",
                "musdb",
                "--root",
                str(root),
                "--out",
                str(store),
                "--valid-tracks",
                "B - Two",
                "--jobs",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    # remixing draws the other sources from random training tracks: the short one must never be drawn
    cfg = TrainConfig(remix_prob=1.0)
    source = example_sources.examples(cfg, Store(store, "music"), "train")
    for i in range(40):
        mixture, _, target = source.example(i)
        assert mixture.shape == target.shape == (512, 128, 1)
    run = tmp_path / "run"
    result = in_process(capsys, music_args(store, run, 1, "--set", "remix_prob=1.0", "--batch-size", "4"))
    assert result.code == 0, result.err
    assert "warning: training track 'S - Short' (33 frames) is shorter than one 128-frame patch" in result.err
    assert "'S - Short'" in (run / "warnings.txt").read_text()


# -- run folders ---------------------------------------------------------------------------------------------


def test_run_dir_that_is_a_file_is_refused(tiny_stores, tmp_path, capsys):
    run = tmp_path / "run"
    run.write_text("my notes\n")
    in_process(capsys, music_args(tiny_stores / "musdb", run)).refused(run, "not a folder")
    assert run.read_text() == "my notes\n"


@pytest.mark.slow
def test_full_disk_while_checkpointing_leaves_nothing_half_written(tiny_stores, tmp_path, capsys):
    run = tmp_path / "run"
    argv = music_args(tiny_stores / "musdb", run)
    full = run_module("cunet.train", *argv, file_limit=1_000_000)  # the configs fit, a checkpoint does not
    line = full.refused(run / "checkpoints")
    assert line.startswith(f"error: {run / 'checkpoints'}/") and TEMP_MARK not in line  # the final name
    assert line.split(": ")[1].rsplit("/", 1)[1] in ("last.keras", "best.keras", "state.json")
    assert "file too large" in line.lower() or "no space" in line.lower()
    assert not hidden_leftovers(run)
    for name in ("checkpoints/last.keras", "checkpoints/best.keras", "model.keras"):
        assert not (run / name).exists(), name  # never half-written: either whole or not there
    assert in_process(capsys, argv).code == 0  # with space again, the run starts over cleanly
    assert history_epochs(run) == [0]  # the epoch logged before the failed checkpoint is not kept twice
    keras.saving.load_model(run / "model.keras", safe_mode=True)


@RUNS
@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_damaged_last_checkpoint_is_refused_before_anything_is_rewritten(
    tiny_stores, partial_run, tmp_path, capsys, damage
):
    run = copy_tree(partial_run, tmp_path / "run")
    last = run / "checkpoints" / "last.keras"
    data = last.read_bytes()
    if damage == "truncated":
        last.write_bytes(data[: len(data) // 2])
    else:  # the archive's directory intact, a stretch of the weights overwritten
        with zipfile.ZipFile(last) as archive:
            member = archive.getinfo("model.weights.h5")
        at = member.header_offset + 200
        last.write_bytes(data[:at] + bytes(4096) + data[at + 4096 :])
    before = snapshot(run)
    argv = music_args(tiny_stores / "musdb", run, 2)
    line = in_process(capsys, argv).refused(last, "damaged", "delete it to restart the run from scratch")
    assert "Traceback" not in line
    assert snapshot(run) == before  # the run folder is as it was
    if damage == "truncated":
        last.unlink()  # what the message says: the run then starts again from the first epoch
        assert in_process(capsys, argv).code == 0
        assert history_epochs(run) == [0, 1]


@RUNS
def test_finished_run_with_a_damaged_model_is_rebuilt_or_refused(tiny_stores, finished_run, tmp_path, capsys):
    run = copy_tree(finished_run, tmp_path / "run")
    argv = music_args(tiny_stores / "musdb", run)
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])
    result = in_process(capsys, argv)
    assert result.code == 0 and "rebuilt" in result.err, result.err
    keras.saving.load_model(model, safe_mode=True)  # whole again, from the best checkpoint
    assert history_epochs(run) == [0]
    model.write_bytes(b"")
    best = run / "checkpoints" / "best.keras"
    best.write_bytes(best.read_bytes()[:1000])
    in_process(capsys, argv).refused(model, "damaged", "best.keras")


@RUNS
def test_moved_run_folder_resumes_and_stale_temporaries_go(tiny_stores, partial_run, tmp_path, capsys):
    run = copy_tree(partial_run, tmp_path / "elsewhere" / "moved")
    pid = dead_pid()
    stale = [
        run / f"{temporary_prefix('config', pid)}x1.json",
        run / "checkpoints" / f"{temporary_prefix('last', pid)}x2.keras",
    ]
    for path in stale:
        path.write_bytes(b"half")
    with temporary_dir(run / "checkpoints", "best") as live:  # a live writer's (it holds its lock): kept
        assert config_io.load(TrainConfig, run / "config.json").run_dir == str(partial_run)
        result = in_process(capsys, music_args(tiny_stores / "musdb", run, 2))
        assert result.code == 0, result.err
        assert history_epochs(run) == [0, 1]  # resumed at the second epoch
        assert not any(path.exists() for path in stale) and live.exists()
        assert config_io.load(TrainConfig, run / "config.json").run_dir == str(run)  # where the run is now


@RUNS
def test_outputs_follow_the_umask(finished_run, partial_run):
    for run, (file_mode, folder_mode) in ((finished_run, (0o644, 0o755)), (partial_run, (0o600, 0o700))):
        found = modes(run)
        assert found and {m for p, m in found.items() if p.is_file()} == {file_mode}, found
        assert {m for p, m in found.items() if p.is_dir()} == {folder_mode}, found


# -- a tiny Y-Net-g ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tiny_ynet_g_trains(tiny_stores, tmp_path):
    """ST-GCN widths under 16 once killed the process (SIGSEGV in oneDNN's weight gradient of the strided
    1x1 residual convolution)."""
    run = tmp_path / "run"
    done = run_module(
        "cunet.train",
        "--model",
        "ynet",
        "--visual",
        "landmarks",
        "--set",
        "model.widths=[4,8,8,8]",
        "--set",
        "model.graph_widths=[4,4,4,4,4,4,4,4]",
        "--epochs",
        "1",
        "--steps",
        "1",
        "--batch-size",
        "1",
        "--store",
        tiny_stores / "acappella",
        "--run-dir",
        run,
        "--quiet",
    )
    assert done.code == 0, (done.code, done.err[-3000:])
    keras.saving.load_model(run / "model.keras", safe_mode=True)


def test_strided_residual_is_subsampling_then_1x1():
    """The graph network's strided residual branch computes what a strided 1x1 convolution would."""
    from cunet.models.config import ModelConfig
    from cunet.models.graph_net import build_graph_net

    net = build_graph_net(ModelConfig(model="ynet", visual="landmarks", graph_widths=(4, 4, 8, 8, 8, 8, 8, 8)))
    conv = net.get_layer("st_gcn2_res_conv")
    x = np.random.default_rng(0).standard_normal((1, 100, 68, 4)).astype(np.float32)
    sub = keras.Model(net.get_layer("st_gcn2_res_step").input, conv.output)
    strided = keras.layers.Conv2D(8, 1, strides=(2, 1))
    strided.build(x.shape)
    strided.set_weights(conv.get_weights())
    np.testing.assert_allclose(np.asarray(sub(x)), np.asarray(strided(x)), rtol=1e-5, atol=1e-6)


# -- a split of one recording ----------------------------------------------------------------------------------


def _one_recording_valid_split(tiny_stores, tmp_path):
    """The tiny Acappella store with its 'valid' index cut down to two clips of its first recording (5 s
    long: clips starting at frames 0 and 25)."""
    store = copy_tree(tiny_stores / "acappella", tmp_path / "store")
    manifest = json.loads((store / "manifest.json").read_text())
    meta = manifest["indexes"]["valid"]
    rows = np.load(store / meta["file"])
    assert len(np.unique(rows[:, 0])) > 1  # the cut changes something
    kept = np.array([[rows[0, 0], 0], [rows[0, 0], 25]], rows.dtype)
    np.save(store / meta["file"], kept)
    meta["rows"] = len(kept)
    (store / "manifest.json").write_text(json.dumps(manifest))
    return store, manifest["tracks"][int(rows[0, 0])]["name"]


@pytest.mark.timeout(60, method="thread", func_only=True)  # a hang in a tf.data thread ignores signals
def test_valid_split_of_one_recording_is_refused_not_hung(tiny_stores, tmp_path, capsys):
    """The second singer comes from another recording of the split: with none, training once looped forever
    drawing one (silently, inside the validation pipeline); now it is refused at the start, naming why."""
    from cunet.models import ModelConfig
    from cunet.store import Store
    from cunet.train import example_sources

    store, name = _one_recording_valid_split(tiny_stores, tmp_path)
    run = tmp_path / "run"
    argv = [
        "--model",
        "ynet",
        "--visual",
        "landmarks",
        "--set",
        "model.widths=[4,8,8,8]",
        "--set",
        "model.graph_widths=[4,4,4,4,4,4,4,4]",
        "--epochs",
        "1",
        "--steps",
        "1",
        "--batch-size",
        "1",
        "--store",
        store,
        "--run-dir",
        run,
        "--quiet",
    ]
    line = in_process(capsys, argv).refused(store, "'valid' index", name, "second_singer_prob=0")
    assert "one recording" in line
    assert not run.exists()
    # without a second singer the split is usable: every validation example comes out
    cfg = TrainConfig(model=ModelConfig(model="ynet", visual="landmarks"), second_singer_prob=0.0)
    source = example_sources.examples(cfg, Store(store, "singing"), "valid")
    for i in range(len(source)):
        mixture, visual, target = source.example(i)
        assert mixture.shape == (256, 256, 2) and np.isfinite(target).all()


@pytest.mark.timeout(60, method="thread", func_only=True)  # a hang in a tf.data thread ignores signals
def test_second_singer_is_another_recording_even_when_one_holds_nearly_every_row(tiny_stores):
    """The redraws that kept earlier streams are bounded; past them the other recordings' rows are chosen
    from at once. A split whose rows are 999 of one recording and 1 of another still gives the other."""
    from cunet.models import ModelConfig
    from cunet.store import Store
    from cunet.train import example_sources

    cfg = TrainConfig(model=ModelConfig(model="ynet", visual="landmarks"), second_singer_prob=1.0)
    source = example_sources.examples(cfg, Store(tiny_stores / "acappella", "singing"), "valid")
    source.rows = np.array([[0, 0]] * 999 + [[1, 5]], np.int64)
    picks = [source._other_row(np.random.default_rng([0, i]), 0) for i in range(200)]
    assert picks == [999] * 200
    # a balanced split draws exactly as the unbounded redraws did (the streams of earlier seeds)
    source.rows = np.array([[t, 0] for t in (0, 0, 1, 2, 0, 3, 0, 0)], np.int64)
    for i in range(200):
        old, new = np.random.default_rng([7, i]), np.random.default_rng([7, i])
        pick = old.integers(len(source.rows))
        while source.rows[pick, 0] == 0:
            pick = old.integers(len(source.rows))
        assert source._other_row(new, 0) == pick and old.integers(1 << 30) == new.integers(1 << 30)
