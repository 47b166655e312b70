"""python -m cunet.evaluation.results wherever it runs from: stores and datasets found by resolved paths, a
protocol that cannot run leaves the other's tables, every protocol choice, unique run names, --split valid."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_musdb

from cunet.errors import InputError
from cunet.evaluation.locate import dataset_root
from cunet.evaluation.results import main
from cunet.evaluation.runs import run_names
from cunet.preprocess.__main__ import main as preprocess
from cunet.store import Store

FAST = ["--max-tracks", "1", "--no-v4", "--report-tracks", "1", "--quiet"]
SISEC_METRICS = {"sdr_v4", "isr_v4", "sir_v4", "sar_v4"}


def _relative_store(project):
    """A MUSDB18 folder and its store, preprocessed from inside ``project`` with relative paths."""
    make_musdb(project / "data", ["A - One", "B - Two", "C - Three"], ["D - Four"])
    assert preprocess(["--dataset", "musdb", "--root", "data", "--out", "stores/musdb", "--jobs", "1", "--quiet"]) == 0
    return project / "stores" / "musdb"


def test_the_dataset_root_is_recorded_resolved_and_an_old_relative_one_is_found_from_the_store(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(project)
    store_path = _relative_store(project)
    manifest = json.loads((store_path / "manifest.json").read_text())
    assert manifest["source"]["root"] == str((project / "data").resolve())

    # a store made before roots were recorded resolved: its root as typed, relative to the project folder
    manifest["source"]["root"] = "data"
    (store_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(elsewhere)
    assert dataset_root(Store(store_path)) == (project / "data").resolve()
    (project / "data").rename(project / "moved")
    with pytest.raises(InputError, match="--dataset-root") as refused:
        dataset_root(Store(store_path))
    assert refused.value.path == "data"
    assert dataset_root(Store(store_path), given="../project/moved") == (project / "moved").resolve()
    # nothing is guessed: a folder of the same name that lacks the store's tracks is not taken
    make_musdb(elsewhere / "data", ["A - One"], ["E - Other"])
    with pytest.raises(InputError, match="--dataset-root"):
        dataset_root(Store(store_path))


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
def test_a_store_made_with_relative_paths_scores_from_another_folder_and_a_moved_dataset(
    trained_runs, tmp_path, monkeypatch, capsys
):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(project)
    store = str(_relative_store(project))
    run = str(trained_runs["cunet"][1])
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()

    assert main(["--runs", run, "--store", store, "--out", "both", *FAST]) == 0
    both = pd.read_csv(elsewhere / "both" / "per_track.csv")
    assert set(both["protocol"]) == {"paper", "sisec"} and set(both["track"]) == {"D - Four"}

    (project / "data").rename(project / "moved")
    capsys.readouterr()
    assert main(["--runs", run, "--store", store, "--out", "paper_only", *FAST]) == 0  # the paper tables stay
    said = capsys.readouterr()
    assert "not scored: the sisec protocol" in said.err
    paper = pd.read_csv(elsewhere / "paper_only" / "per_track.csv")
    assert set(paper["protocol"]) == {"paper"}
    pd.testing.assert_frame_equal(paper, both[both["protocol"] == "paper"].reset_index(drop=True))
    md = (elsewhere / "paper_only" / "summary.md").read_text()
    assert "Not scored: the sisec protocol" in md and "### vocals (dB" in md and "SiSEC" not in md.split("###")[1]

    # pointed at where the audio is now, the same scores
    assert (
        main(
            [
                "--runs",
                run,
                "--store",
                store,
                "--dataset-root",
                "../project/moved",
                "--protocol",
                "sisec",
                "--out",
                "moved",
                *FAST,
            ]
        )
        == 0
    )
    moved = pd.read_csv(elsewhere / "moved" / "per_track.csv")
    pd.testing.assert_frame_equal(moved, both[both["protocol"] == "sisec"].reset_index(drop=True))

    # nothing could be scored: refused, nothing written
    capsys.readouterr()
    assert main(["--runs", run, "--store", store, "--protocol", "sisec", "--out", "nothing", *FAST]) == 2
    assert "--dataset-root" in capsys.readouterr().err
    assert not (elsewhere / "nothing").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
@pytest.mark.parametrize(
    "kinds, protocol",
    # every protocol on music; a Y-Net's one protocol whatever is asked; both kinds at once under both protocols
    [
        (("cunet",), "paper"),
        (("cunet",), "sisec"),
        (("cunet",), "both"),
        (("ynet",), "sisec"),
        (("cunet", "ynet"), "both"),
    ],
)
def test_every_protocol_with_music_runs_ynets_and_both(trained_runs, tmp_path, protocol, kinds):
    out = tmp_path / "results"
    runs = [str(trained_runs[k][1]) for k in kinds]
    assert main(["--runs", *runs, "--protocol", protocol, "--out", str(out), *FAST]) == 0
    frame = pd.read_csv(out / "per_track.csv")
    music = {"paper", "sisec"} if protocol == "both" else {protocol}
    want = (music if "cunet" in kinds else set()) | ({"paper"} if "ynet" in kinds else set())
    assert set(frame["protocol"]) == want
    assert set(kinds) <= set(frame["model"])
    if "cunet" in kinds:
        cunet = frame[frame["model"] == "cunet"]
        assert set(cunet["target"]) == {"bass", "drums", "other", "vocals"}
        assert (set(cunet["protocol"]) == {"sisec"}) == (protocol == "sisec")
        assert (set(cunet[cunet["protocol"] == "sisec"]["metric"]) == SISEC_METRICS) == (protocol != "paper")
    if "ynet" in kinds:
        ynet = frame[frame["model"] == "ynet"]
        assert set(ynet["target"]) == {"voice"} and set(ynet["singers"]) == {1, 2}
    md = (out / "summary.md").read_text()
    assert ("SiSEC protocol" in md) == ("sisec" in want)
    import matplotlib.image

    image = matplotlib.image.imread(out / "sdr_boxplot.png")
    # one panel per target and protocol scored: 4 music targets per protocol, 2 Y-Net targets
    panels = 4 * len(music) * ("cunet" in kinds) + 2 * ("ynet" in kinds)
    assert image.shape[0] > 90 * panels and image.std() > 0


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
def test_same_named_runs_keep_their_rows_apart_from_each_other_and_the_oracles(trained_runs, tmp_path):
    source = trained_runs["cunet"][1]
    seed0 = shutil.copytree(source, tmp_path / "seed0" / "runs" / "cunet-x")
    seed1 = shutil.copytree(source, tmp_path / "seed1" / "runs" / "cunet-x")
    oracle_named = shutil.copytree(source, tmp_path / "other" / "mixture")
    # one store, two spellings: seed1 records it through a detour
    config = json.loads((seed1 / "config.json").read_text())
    store = config["values"]["store"]
    config["values"]["store"] = str(Path(store).parent / ".." / Path(store).parent.name / Path(store).name)
    (seed1 / "config.json").write_text(json.dumps(config))
    assert Store(config["values"]["store"]).path != Store(store).path
    out = tmp_path / "results"
    # the same run twice, one spelling through its model file: scored once
    assert (
        main(
            [
                "--runs",
                str(seed0),
                str(seed1),
                str(oracle_named),
                str(seed0 / "model.keras"),
                "--protocol",
                "paper",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    frame = pd.read_csv(out / "per_track.csv")
    models = {"seed0/runs/cunet-x", "seed1/runs/cunet-x", "other/mixture"}
    assert set(frame["model"]) == models | {"mixture", "IRM1", "IRM2"}
    # one row per model, target and metric: no run replaced another or an oracle, no store scored twice
    assert not frame.duplicated(["track", "target", "model", "metric"]).any()
    assert len(frame) == 6 * 4 * 4  # six rows, four targets, four metrics (sdr, sir, sar, si_sdr)
    sdr = frame[frame["metric"] == "sdr"].set_index(["target", "model"])["value"]
    for target in ("bass", "drums", "other", "vocals"):  # copies of one model: one score
        assert sdr[target, "seed0/runs/cunet-x"] == sdr[target, "seed1/runs/cunet-x"] == sdr[target, "other/mixture"]
        assert sdr[target, "other/mixture"] != sdr[target, "mixture"] < sdr[target, "IRM1"]  # still the oracle's
    assert (out / "spectrogram_seed0_runs_cunet-x.png").is_file() and (out / "spectrogram_mixture.png").is_file()


def test_run_names_are_the_shortest_distinguishing_tails():
    names = run_names(
        [
            "/a/seed0/runs/cunet",
            "/a/seed1/runs/cunet",
            "/b/runs/unet",
            "/b/old/IRM1",
            "/c/ynet",
            "/c/ynet (other singer)",
        ]
    )
    assert names == ["seed0/runs/cunet", "seed1/runs/cunet", "unet", "old/IRM1", "ynet", "c/ynet (other singer)"]


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
def test_split_valid_scores_the_held_out_tracks_and_says_so(trained_runs, tiny_stores, tmp_path):
    out = tmp_path / "results"
    runs = [str(trained_runs[k][1]) for k in ("cunet", "ynet")]
    assert main(["--runs", *runs, "--split", "valid", "--out", str(out), *FAST]) == 0
    frame = pd.read_csv(out / "per_track.csv")
    music = frame[frame["model"] == "cunet"]
    valid = {t.name for t in Store(tiny_stores / "musdb").tracks if t.split == "valid"}
    assert set(music["split"]) == {"valid"} and set(music["track"]) <= valid
    assert set(music["protocol"]) == {"paper", "sisec"}
    singing = Store(tiny_stores / "acappella").tracks
    seen = {t.name for t in singing if t.split == "val_seen"}
    ynet = frame[frame["model"] == "ynet"]
    assert set(ynet["split"]) == {"val_seen"} and {t.split("@")[0] for t in ynet["track"]} <= seen
    assert "Scored on the valid split (tracks held out of training)" in (out / "summary.md").read_text()


def test_together_specs_name_their_models_and_need_two():
    from cunet.evaluation.runs import together_spec

    assert together_spec("unets=runs/unet-bass:runs/unet-drums") == ("unets", ["runs/unet-bass", "runs/unet-drums"])
    # no NAME=: the members' folder names; an '=' inside a path is a path's
    assert together_spec("runs/a=1:runs/b/model.keras") == ("a=1+b", ["runs/a=1", "runs/b/model.keras"])
    with pytest.raises(InputError, match="--together unets=runs/a: give two run folders or more"):
        together_spec("unets=runs/a")
