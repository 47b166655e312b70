"""Stores of any set of sources: MoisesDB, Slakh2100 and stem-folder layouts through python -m cunet.preprocess."""

import json
import subprocess
import sys

import numpy as np
import pytest
import stem_layouts as layouts

from cunet import audio
from cunet.preprocess.__main__ import main
from cunet.store import Store

PATCH = ["--patch-frames", "32", "--quiet", "--jobs", "1"]  # 3-s tracks hold 96 frames at 8192 Hz, hop 256


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cunet.preprocess", *PATCH, *args], capture_output=True, text=True, timeout=300
    )


def test_moisesdb_store_holds_the_chosen_sources_and_which_each_track_has(tmp_path):
    songs = {
        "s1": {"vocals": 2, "guitar": 1, "bass": 1},
        "s2": {"vocals": 1, "piano": 1, "drums": 1},
        "s3": {"guitar": 1, "piano": 1, "organ": 1},
        "s4": {"drums": 1, "bass": 1},  # none of the sources
        "s5": {"vocals": 1, "guitar": 1, "piano": 1},
    }
    root = layouts.moisesdb(tmp_path / "db", songs)
    out = tmp_path / "store"
    assert (
        main(
            [
                "--dataset",
                "moisesdb",
                "--root",
                str(root),
                "--out",
                str(out),
                "--sources",
                "vocals",
                "guitar",
                "piano",
                "--test-tracks",
                "s5",
                "--valid-fraction",
                "0",
                *PATCH,
            ]
        )
        == 0
    )
    m = _manifest(out)
    assert m["sources"] == ["vocals", "guitar", "piano"] and m["stems"] == ["mixture", "vocals", "guitar", "piano"]
    assert m["selection"] == {"vocals": ["vocals"], "guitar": ["guitar"], "piano": ["piano"]}
    assert m["conditions"]["names"] == ["vocals", "guitar", "piano"] and m["conditions"]["order"] == m["sources"]
    assert [t["name"] for t in m["no_source"]] == ["s4"]
    tracks = {t["name"]: t for t in m["tracks"]}
    assert sorted(tracks) == ["s1", "s2", "s3", "s5"]
    assert tracks["s1"]["sources_present"] == ["vocals", "guitar"] and tracks["s3"]["sources_present"] == [
        "guitar",
        "piano",
    ]
    assert tracks["s5"]["split"] == "test" and m["splits"]["test_tracks"] == ["s5"]
    assert m["config"]["sources"] == ["vocals", "guitar", "piano"] and m["config"]["test_tracks"] == ["s5"]
    store = Store(out)
    store.check()
    s1 = [t.name for t in store.tracks].index("s1")
    stft = audio.CUNET_STFT
    # vocals: its two files summed; the mixture: every file, the unselected bass included; piano: silence
    want = {
        stem: audio.resample(
            sum(audio.read(p)[0] for p in sorted((root / "prov/s1" / stem).iterdir())), layouts.RATE, stft.sample_rate
        )
        for stem in songs["s1"]
    }
    np.testing.assert_allclose(store.array(s1, "vocals"), audio.stft(want["vocals"][0], stft), atol=2e-4)
    np.testing.assert_allclose(store.array(s1, "mixture"), audio.stft(sum(want.values())[0], stft), atol=2e-4)
    assert not np.any(store.array(s1, "piano")) and np.abs(store.array(s1, "guitar")).max() > 1
    # one-hot conditions over the three sources, every train patch of every kept train track indexed for each
    np.testing.assert_array_equal(store.conditions, np.eye(3))
    train = store.index("train")
    assert set(train[:, 2]) == {0, 1, 2} and {store.tracks[t].name for t in train[:, 0]} == {"s1", "s2", "s3"}


def test_folders_store_defaults_to_every_stem_and_groups_sum_stems(tmp_path):
    root = layouts.folders(
        tmp_path / "f",
        {
            "a": ("vocals", "guitar", "piano", "organ", "bass"),
            "b": ("vocals", "piano", "bass"),
            "c": ("guitar", "organ", "drums"),
        },
        test=("c",),
    )
    out = tmp_path / "all"
    assert main(["--dataset", "folders", "--root", str(root), "--out", str(out), "--valid-fraction", "0", *PATCH]) == 0
    m = _manifest(out)
    assert m["sources"] == ["bass", "drums", "guitar", "organ", "piano", "vocals"] and not m["no_source"]
    assert {t["name"]: t["sources_present"] for t in m["tracks"]}["b"] == ["bass", "piano", "vocals"]
    grouped = tmp_path / "grouped"
    assert (
        main(
            [
                "--dataset",
                "folders",
                "--root",
                str(root),
                "--out",
                str(grouped),
                "--valid-fraction",
                "0",
                "--sources",
                "vocals",
                "keys",
                "rest",
                "--rest",
                "rest",
                "--group",
                "keys=piano+organ",
                "--condition",
                "accompaniment=keys+rest",
                *PATCH,
            ]
        )
        == 0
    )
    g = _manifest(grouped)
    assert g["selection"] == {"vocals": ["vocals"], "keys": ["organ", "piano"], "rest": ["bass", "drums", "guitar"]}
    assert g["conditions"]["names"] == ["vocals", "keys", "rest", "accompaniment"]
    np.testing.assert_array_equal(np.load(grouped / "indexes/conditions.npy")[3], [0, 1, 1])
    a, b = Store(out), Store(grouped)
    ta = [t.name for t in a.tracks].index("a")
    keys = np.asarray(a.array(ta, "piano")) + np.asarray(a.array(ta, "organ"))
    np.testing.assert_allclose(b.array(ta, "keys"), keys, atol=1e-4)
    np.testing.assert_array_equal(b.array(ta, "mixture"), a.array(ta, "mixture"))


def test_slakh_store_names_sources_by_instrument_class(tmp_path):
    root = layouts.slakh(
        tmp_path / "slakh",
        {
            "train/Track00001": {"S00": "Guitar", "S01": "Piano", "S02": "Guitar"},
            "train/Track00002": {"S00": "Piano", "S01": "Bass"},
            "validation/Track00003": {"S00": "Guitar", "S01": "Bass"},
            "test/Track00004": {"S00": "Guitar", "S01": "Piano", "S02": "Bass"},
        },
    )
    out = tmp_path / "store"
    assert main(["--dataset", "slakh", "--root", str(root), "--out", str(out), *PATCH]) == 0
    m = _manifest(out)
    assert m["sources"] == ["bass", "guitar", "piano"]
    assert {t["name"]: t["split"] for t in m["tracks"]} == {
        "Track00001": "train",
        "Track00002": "train",
        "Track00003": "valid",
        "Track00004": "test",
    }
    # the mixture file is the sum of the stems: nothing reported
    assert all(t["mixture_difference_db"] is None or t["mixture_difference_db"] < -40 for t in m["tracks"])
    Store(out).check()


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--sources", "vocals", "banjo"], "no source 'banjo': the dataset has guitar, piano, vocals"),
        (["--group", "keys=piano+harp"], "--group keys: no stem 'harp'; the dataset has guitar, piano, vocals"),
        (["--group", "a=piano", "--group", "b=piano+guitar"], "stem 'piano' is in two groups"),
        (
            ["--condition", "acc=guitar+banjo"],
            "--condition acc: no source 'banjo'; the store's sources are guitar, piano, vocals",
        ),
    ],
)
def test_bad_source_names_exit_2_listing_what_there_is_and_write_nothing(tmp_path, args, problem):
    root = layouts.folders(tmp_path / "f", {"a": ("vocals", "guitar"), "b": ("piano", "vocals")}, test=("b",))
    out = tmp_path / "store"
    done = _cli("--dataset", "folders", "--root", str(root), "--out", str(out), *args)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and problem in done.stderr, done.stderr
    assert not out.exists()


def test_source_options_are_refused_for_musdb(small_musdb, tmp_path):
    done = _cli("--dataset", "musdb", "--root", str(small_musdb), "--out", str(tmp_path / "s"), "--sources", "vocals")
    assert done.returncode == 2 and "--sources apply to --dataset moisesdb, slakh, folders" in done.stderr
    assert "--dataset folders" in done.stderr and not (tmp_path / "s").exists()


def test_musdb_store_records_nothing_new(small_musdb, tmp_path):
    out = tmp_path / "store"
    assert main(["--dataset", "musdb", "--root", str(small_musdb), "--out", str(out), "--quiet"]) == 0
    m = _manifest(out)
    assert m["sources"] == ["bass", "drums", "other", "vocals"] and "selection" not in m
    assert "sources" not in m["config"] and "sources_present" not in m["tracks"][0]
    saved = json.loads((out / "preprocess_config.json").read_text())["values"]
    assert saved == m["config"]


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda t: (t / "data.json").write_text("{not json"), "malformed data.json: not JSON"),
        (lambda t: (t / "vocals" / "vocals0.wav").unlink(), "which is not there (stem 'vocals'"),
    ],
)
def test_bad_moisesdb_track_exits_2_naming_the_file_and_writes_nothing(tmp_path, damage, problem):
    root = layouts.moisesdb(tmp_path / "db", {"s1": {"vocals": 1, "bass": 1}, "s2": {"vocals": 1, "drums": 1}})
    damage(root / "prov" / "s2")
    out = tmp_path / "store"
    done = _cli("--dataset", "moisesdb", "--root", str(root), "--out", str(out))
    assert done.returncode == 2 and done.stderr.startswith(f"error: {root / 'prov' / 's2' / 'data.json'}: ")
    assert problem in done.stderr and not out.exists(), done.stderr


def test_a_track_without_any_source_is_skipped_with_a_warning(tmp_path):
    root = layouts.folders(tmp_path / "f", {"a": ("vocals", "bass"), "b": ("drums",), "c": ("vocals",)}, test=("c",))
    out = tmp_path / "store"
    done = _cli(
        "--dataset",
        "folders",
        "--root",
        str(root),
        "--out",
        str(out),
        "--sources",
        "vocals",
        "bass",
        "--valid-fraction",
        "0",
    )
    assert done.returncode == 0, done.stderr
    assert (
        "warning: 1 track(s) skipped, holding none of the sources: b (none of the sources vocals, bass (it "
        "holds drums))" in done.stderr
    )
    assert [t["name"] for t in _manifest(out)["no_source"]] == ["b"]
