"""Separation with models of any set of sources: one stem per target of the card, --targets picks some,
--two-stems gives one and the rest, a name the model lacks is refused listing those it has."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from stem_layouts import SIX

from cunet import audio

pytestmark = pytest.mark.xdist_group("six_runs")


@pytest.fixture(scope="module")
def song(six_store, tmp_path_factory):
    """The store's test song (s6, all six sources) at a level the stems cannot clip."""
    folder = six_store.parent / "db" / "prov" / "s6"
    x = sum(audio.read(p)[0] for p in sorted(folder.rglob("*.wav")))
    path = tmp_path_factory.mktemp("song") / "s6.wav"
    audio.write(
        path, (0.5 * x / np.abs(x).max()).astype(np.float32), audio.read(next(folder.rglob("*.wav")))[1], "FLOAT"
    )
    return path


def _separate(*args):
    return subprocess.run(
        [sys.executable, "-m", "cunet.separation", *args, "--quiet", "--precision", "float32"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_one_stem_per_target_of_the_card_and_targets_picks_some(six_runs, song, tmp_path):
    done = _separate(str(six_runs["cunet"]), str(song), "-o", str(tmp_path / "all"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "all" / "s6").iterdir()) == sorted(f"{s}.wav" for s in SIX)
    done = _separate(str(six_runs["cunet"]), str(song), "-o", str(tmp_path / "some"), "--targets", "guitar", "piano")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "some" / "s6").iterdir()) == ["guitar.wav", "piano.wav"]
    for stem in ("guitar", "piano"):  # the same stems as when all six are separated
        np.testing.assert_allclose(
            audio.read(tmp_path / "some" / "s6" / f"{stem}.wav")[0],
            audio.read(tmp_path / "all" / "s6" / f"{stem}.wav")[0],
            atol=1e-5,
        )


def test_two_stems_are_the_target_and_the_rest_summing_to_the_input(six_runs, song, tmp_path):
    done = _separate(str(six_runs["cunet"]), str(song), "-o", str(tmp_path), "--two-stems", "vocals")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "s6"
    assert sorted(p.name for p in folder.iterdir()) == ["no_vocals.wav", "vocals.wav"]
    x = audio.read(song)[0]
    vocals, rest = (audio.read(folder / f"{n}.wav")[0] for n in ("vocals", "no_vocals"))
    np.testing.assert_allclose(vocals + rest, x, atol=1e-5)
    assert np.abs(vocals).max() > 1e-3 and np.abs(rest).max() > 1e-3


@pytest.mark.parametrize(
    "run, args, problem",
    [
        (
            "cunet",
            ["--targets", "guitar", "banjo"],
            "--targets banjo: the model has no such target; it separates vocals, drums, bass, guitar, piano, other",
        ),
        ("unet", ["--two-stems", "vocals"], "--two-stems vocals: the model has no such target; it separates guitar"),
    ],
)
def test_a_target_the_model_lacks_exits_2_listing_those_it_has(six_runs, song, tmp_path, run, args, problem):
    out = tmp_path / "out"
    done = _separate(str(six_runs[run]), str(song), "-o", str(out), *args)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]  # TensorFlow logs besides
    assert done.returncode == 2 and errors == [f"error: {six_runs[run]}: {problem}"], done.stderr
    assert not out.exists()


def test_a_source_absent_from_a_test_track_is_counted_not_scored(six_runs, six_store):
    from cunet.evaluation.config import ResultsConfig
    from cunet.evaluation.scoring import _paper
    from cunet.evaluation.tables import markdown, summarise
    from cunet.separation.load import load_separator
    from cunet.store import Store

    separator = load_separator(six_runs["cunet"], precision="float32")
    rows, _, _ = _paper(Store(six_store), [("cunet", separator)], ResultsConfig(v4=False, report_tracks=0), False)
    _, summary = summarise([r.as_dict() for r in rows])
    sdr = summary[summary["metric"] == "sdr"].set_index(["target", "model"])
    # s6 holds every source, s7 no guitar: guitar is scored on one track and absent in one, others on two
    assert sdr.loc[("guitar", "cunet"), ["count", "tracks", "absent"]].tolist() == [1, 1, 1]
    assert sdr.loc[("vocals", "cunet"), ["count", "tracks", "absent"]].tolist() == [2, 2, 0]
    assert set(summary["target"]) == set(SIX) and np.isfinite(sdr["median"]).all()
    assert "absent in 1 tracks, which are not scored" in markdown(summary).split("### guitar")[1].splitlines()[0]


def test_complete_tracks_scores_only_songs_holding_every_source_as_moisesdb_does(six_runs, six_store, tmp_path):
    from cunet.evaluation.config import ResultsConfig
    from cunet.evaluation.output import write
    from cunet.evaluation.scoring import Scores, _paper
    from cunet.separation.load import load_separator
    from cunet.store import Store

    separator = load_separator(six_runs["cunet"], precision="float32")
    rows, _, _ = _paper(Store(six_store), [("cunet", separator)], ResultsConfig(v4=False, report_tracks=0), False)
    cfg = ResultsConfig(out=str(tmp_path / "res"), complete_tracks=True)
    text = write(cfg, Scores(rows, {}, {}, []))
    summary = pd.read_csv(tmp_path / "res" / "summary.csv")
    sdr = summary[summary["metric"] == "sdr"]
    # s7 lacks a guitar: left out of every source's table, so each is over s6 alone and nothing is absent
    assert set(sdr["tracks"]) == {1} and set(sdr["count"]) == {1} and "absent" not in summary
    assert set(pd.read_csv(tmp_path / "res" / "per_track.csv")["track"]) == {"s6"}
    assert "--complete-tracks, as MoisesDB's benchmark): 1 left out: s7." in text
    # and without the flag the same rows keep s7 wherever it has the source
    write(ResultsConfig(out=str(tmp_path / "all")), Scores(rows, {}, {}, []))
    assert set(pd.read_csv(tmp_path / "all" / "per_track.csv")["track"]) == {"s6", "s7"}


def test_sisec_protocol_scores_every_present_source_against_all_references(six_runs, six_store):
    from cunet.evaluation.config import ResultsConfig
    from cunet.evaluation.scoring import _sisec
    from cunet.evaluation.tables import summarise
    from cunet.separation.load import load_separator
    from cunet.store import Store

    separator = load_separator(six_runs["cunet"], precision="float32")
    rows = _sisec(Store(six_store), [("cunet", separator)], ResultsConfig(), False)
    _, summary = summarise(rows)
    sdr = summary[summary["metric"] == "sdr_v4"].set_index(["target", "model"])
    guitar = next(t for t in sdr.index.get_level_values(0) if t.startswith("guitar"))
    vocals = next(t for t in sdr.index.get_level_values(0) if t.startswith("vocals"))
    # read again from the MoisesDB folder at 22.05 kHz: s7 has no guitar, counted, never a NaN in a median
    assert sdr.loc[(guitar, "cunet"), ["count", "tracks", "absent"]].tolist() == [1, 1, 1]
    assert sdr.loc[(vocals, "cunet"), ["count", "tracks", "absent"]].tolist() == [2, 2, 0]
    assert np.isfinite(sdr["median"]).all() and len({t.split(" ")[0] for t in sdr.index.get_level_values(0)}) == 6
    # the ideal ratio mask is far above the mixture on every source: the references are the right ones
    assert all(
        sdr.loc[(t, "IRM1"), "median"] > sdr.loc[(t, "mixture"), "median"] + 5
        for t in set(sdr.index.get_level_values(0))
    ), sdr


def test_a_combination_condition_is_recorded_and_separated_by_name(tmp_path):
    import json

    import stem_layouts

    from cunet.preprocess.__main__ import main as preprocess
    from cunet.separation.load import load_separator
    from cunet.train.__main__ import main as train

    root = stem_layouts.folders(
        tmp_path / "f",
        {"a": ("vocals", "bass", "drums"), "b": ("vocals", "bass", "drums"), "c": ("vocals", "bass", "drums")},
        test=("c",),
    )
    store, run = tmp_path / "store", tmp_path / "run"
    assert (
        preprocess(
            [
                "--dataset",
                "folders",
                "--root",
                str(root),
                "--out",
                str(store),
                "--valid-fraction",
                "0.4",
                "--condition",
                "accompaniment=bass+drums",
                "--patch-frames",
                "64",
                "--quiet",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    assert (
        train(
            [
                "--model",
                "cunet",
                "--store",
                str(store),
                "--run-dir",
                str(run),
                "--steps",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "2",
                "--quiet",
                "--set",
                "model.first_filters=4",
                "--set",
                "model.n_frames=64",
            ]
        )
        == 0
    )
    card = json.loads((run / "model_card.json").read_text())
    assert card["targets"] == ["bass", "drums", "vocals"] and card["combinations"] == [
        ["accompaniment", ["bass", "drums"]]
    ]
    separator = load_separator(run, targets=("accompaniment", "vocals"), precision="float32")
    np.testing.assert_array_equal(separator.conditions.reshape(2, 3), [[1, 1, 0], [0, 0, 1]])
    x = stem_layouts.tone("vocals", 0, 1.0, 8192)
    assert list(separator.separate(x, 8192)) == ["accompaniment", "vocals"]


def test_results_score_dedicated_models_together_under_one_wiener_filter(six_runs, six_store, tmp_path, capsys):
    """``--together pair=guitar-unet:piano-unet`` is one separator with one row per target of either; under
    ``--wiener`` its guitar differs from the guitar U-Net's own (that filter weighs the piano's estimate too;
    without it the pair's stems are each model's, tests/test_separate_bank.py)."""
    import os

    from conftest import SIX_TRAIN

    from cunet.evaluation.results import main as results
    from cunet.train.__main__ import main as train

    piano = tmp_path / "unet-piano"
    argv = ["--model", "unet", "--target", "piano", *SIX_TRAIN, "--store", str(six_store), "--run-dir", str(piano)]
    assert train(argv) == 0
    pair = "pair=" + os.pathsep.join([str(six_runs["unet"]), str(piano)])
    flags = ["--protocol", "paper", "--no-v4", "--report-tracks", "0", "--wiener", "1", "--quiet"]
    assert results(["--runs", str(six_runs["unet"]), "--together", pair, *flags, "--out", str(tmp_path / "res")]) == 0
    rows = pd.read_csv(tmp_path / "res" / "per_track.csv")
    sdr = rows[rows["metric"] == "sdr"].pivot_table(index=["target", "track"], columns="model", values="value")
    assert sdr.loc["piano", "pair"].notna().all() and sdr.loc["piano", "unet"].isna().all()
    assert (sdr.loc["guitar", "pair"] - sdr.loc["guitar", "unet"]).abs().max() > 1e-3
    capsys.readouterr()
    assert results(["--together", str(piano), "--quiet", "--out", str(tmp_path / "bad")]) == 2
    assert "--together" in capsys.readouterr().err and not (tmp_path / "bad").exists()
