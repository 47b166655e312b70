"""python -m cunet.evaluation.results: tables with oracle rows, plots, and scores that mean something."""

import numpy as np
import pandas as pd
import pytest

from cunet.datasets.musdb import SOURCES
from cunet.evaluation.examples import music_examples
from cunet.evaluation.metrics import bss_eval_v3
from cunet.evaluation.oracle import ideal_ratio_mask
from cunet.evaluation.results import main
from cunet.store import Store


def test_ideal_ratio_masks_sum_to_one_and_irm2_is_the_wiener_gain():
    rng = np.random.default_rng(0)
    specs = rng.standard_normal((3, 5, 7)) + 1j * rng.standard_normal((3, 5, 7))
    specs[:, 0, 0] = 0  # a silent bin: the masks share it equally
    for alpha in (1, 2):
        masks = ideal_ratio_mask(specs, alpha)
        np.testing.assert_allclose(masks.sum(0), 1, atol=1e-12)
    power = np.abs(specs[:, 1:]) ** 2
    np.testing.assert_allclose(ideal_ratio_mask(specs, 2)[:, 1:], power / power.sum(0), atol=1e-12)


def test_music_examples_rebuild_the_stems_and_the_mixture(tiny_stores):
    store = Store(tiny_stores / "musdb")
    examples = list(music_examples(store))
    assert [e.target for e in examples] == ["bass", "drums", "other", "vocals"]
    ex = examples[-1]
    n = store.tracks[[t.split for t in store.tracks].index("test")].n_samples
    assert ex.sources.shape == (4, n) and ex.rate == 8192
    np.testing.assert_allclose(ex.sources.sum(0), ex.mixture, atol=1e-4)  # the synthetic mix is the stems' sum
    # the IRM oracles are upper bounds: far above the mixture as the estimate
    sdr = {
        name: bss_eval_v3(np.stack([ex.sources[0], ex.mixture - ex.sources[0]]), np.stack([est, ex.mixture - est]))[
            "sdr"
        ][0]
        for name, est in ex.oracles.items()
        if name != "mixture"
    }
    assert min(sdr.values()) > 8, sdr


@pytest.mark.slow
@pytest.mark.xdist_group("trained_runs")
def test_results_tables_plots_and_trained_models_beat_the_mixture(trained_runs, tmp_path, capsys):
    runs = [str(folder) for _, folder in trained_runs.values()]
    out = tmp_path / "results"
    assert main(["--runs", *runs, "--out", str(out), "--max-tracks", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "### vocals" in printed and "| IRM2 |" in printed
    assert "### vocals — SiSEC protocol" in printed  # --protocol both, the default

    per_track = pd.read_csv(out / "per_track.csv")
    assert list(per_track.columns) == [
        "track",
        "split",
        "target",
        "singers",
        "loudness",
        "protocol",
        "model",
        "frames",
        "metric",
        "value",
    ]
    assert {"mixture", "IRM1", "IRM2", "unet", "cunet", "ynet"} <= set(per_track["model"])
    assert set(per_track["metric"]) == {"sdr", "sir", "sar", "sdr_v4", "isr_v4", "sir_v4", "sar_v4", "si_sdr"}
    assert set(per_track[per_track["model"] == "cunet"]["target"]) == {"bass", "drums", "other", "vocals"}
    ynet = per_track[per_track["model"] == "ynet"]
    assert set(ynet["target"]) == {"voice"} and set(ynet["singers"]) == {1, 2} and set(ynet["loudness"]) == {1.0}
    assert set(ynet["frames"]) == {"own", "other"}  # the other singer's frames: the visual branch is used
    assert per_track[per_track["model"] == "cunet"][["singers", "loudness", "frames"]].isna().all().all()

    page = (out / "report.html").read_text()
    assert "<audio" in page and "ynet (other singer)" in page
    assert len(list((out / "listen").glob("*.mp3"))) == page.count("<audio")

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "protocol",
        "split",
        "target",
        "singers",
        "loudness",
        "model",
        "frames",
        "metric",
        "median",
        "mean",
        "count",
        "tracks",
    ]
    paper = summary[(summary["metric"] == "sdr") & (summary["protocol"] == "paper")]
    sdr = paper[paper["singers"].isna()].set_index(["target", "model"])["median"]
    voice = paper[(paper["singers"] == 1) & paper["frames"].isin(["own", np.nan])].set_index("model")["median"]
    # trained on 80 batches, the dedicated vocals U-Net already beats the mixture by decibels, below the
    # oracles; so does the small preset's C-U-Net (complex FiLM, cnn control) on every target
    assert sdr["vocals", "mixture"] + 3 < sdr["vocals", "unet"] < sdr["vocals", "IRM1"], sdr["vocals"]
    for target in ("bass", "drums", "other", "vocals"):
        assert sdr[target, "cunet"] > sdr[target, "mixture"] + 1, (target, sdr[target])
    assert voice["IRM2"] > voice["mixture"] + 5

    md = (out / "summary.md").read_text()
    assert md.strip() == printed.split("written:")[0].strip()
    for png in ["sdr_boxplot.png", "spectrogram_cunet.png", "spectrogram_ynet.png", "spectrogram_IRM1.png"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    import matplotlib.image

    assert matplotlib.image.imread(out / "sdr_boxplot.png").shape[0] > 200
    assert (out / "results_config.json").is_file()


def test_results_refuse_what_is_not_a_run_and_write_nothing(tmp_path, capsys):
    assert main(["--runs-root", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "train a model first" in capsys.readouterr().err
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "model.keras").write_text("no")
    assert main(["--runs", str(tmp_path / "fake"), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "model_config.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_nan_or_missing_track_is_flagged_not_dropped_quietly():
    from cunet.evaluation.tables import markdown, summarise

    rows = [
        {"track": t, "target": "vocals", "model": m, "metric": "sdr", "value": v}
        for m, values in (("mixture", [1.0, 2.0, 3.0]), ("good", [5.0, 6.0, 7.0]), ("broken", [5.0, np.nan, 9.0]))
        for t, v in zip("abc", values)
    ]
    rows += [{"track": t, "target": "vocals", "model": "partial", "metric": "sdr", "value": 4.0} for t in "ab"]
    _, summary = summarise(rows)
    table = markdown(summary)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert lines["good"].endswith("| 3 |") and "6.00" in lines["good"]
    assert lines["broken ⚠"].endswith("| 2 |") and "7.00" in lines["broken ⚠"]  # the median of the two left
    assert lines["partial ⚠"].endswith("| 2 |")
    assert "⚠ broken: 1 of 3 tracks NaN or missing" in table and "⚠ partial: 1 of 3" in table


def test_ynet_tables_per_test_split():
    from cunet.evaluation.tables import markdown, summarise

    rows = [
        {
            "track": f"{split}-{i}",
            "split": split,
            "target": "voice",
            "singers": 1,
            "model": "ynet",
            "metric": "sdr",
            "value": base + i,
        }
        for split, base in (("test_seen", 10.0), ("test_unseen", 0.0))
        for i in range(3)
    ]
    _, summary = summarise(rows)
    sdr = summary.set_index("split")["median"]
    assert sdr["test_seen"] == 11.0 and sdr["test_unseen"] == 1.0
    assert sdr["all"] == 6.0  # both splits together: the median of 0, 1, 2, 10, 11, 12
    assert set(summary["target"]) == {"voice"} and set(summary["singers"]) == {1}
    table = markdown(summary)
    assert "### voice (1 singer), test_unseen" in table
    assert table.index("### voice (1 singer) (") < table.index("### voice (1 singer), test_seen")


def test_listening_report_opens_in_a_real_browser(tmp_path):
    """The page loads with no console error, every audio element's file exists and decodes, every image
    loads, and the screenshot is not blank."""
    import io

    from browser import chromium, open_page
    from PIL import Image

    from cunet.evaluation.config import ResultsConfig
    from cunet.evaluation.output import write
    from cunet.evaluation.rows import ScoreRow
    from cunet.evaluation.scoring import Scores

    if chromium() is None:
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    rng = np.random.default_rng(0)
    rate = 8192
    t = np.arange(10 * rate) / rate
    reference = (0.3 * np.sin(2 * np.pi * 440 * t) * (t > 3)).astype(np.float32)
    mixture = reference + (0.1 * rng.standard_normal(len(t))).astype(np.float32)
    rows, listening = [], {}
    for track in ("song A", "song B"):
        for model, value in (("mixture", -3.0), ("IRM1", 12.0), ("IRM2", 13.0), ("cunet", 6.0)):
            rows.append(ScoreRow(track, "test", "vocals", "paper", model, "sdr", value))
        window = slice(3 * rate, 9 * rate)
        listening["vocals", track] = (
            rate,
            3.0,
            {
                "mixture": mixture[window],
                "reference": reference[window],
                "IRM1": reference[window],
                "cunet": 0.9 * reference[window],
            },
        )
    panels = {("vocals", "cunet"): (mixture, 0.9 * reference, reference, rate, "cunet: vocals, song A")}
    out = tmp_path / "results"
    write(ResultsConfig(out=str(out)), Scores(rows, panels, listening, []))
    page = out / "report.html"
    assert page.stat().st_size < 50_000  # the audio is beside the page, not in it
    seen = open_page(out, "report.html")
    assert seen["errors"] == [], seen["errors"]
    audio_checks = seen["check"]["audio"]
    assert len(audio_checks) == 2 * 4  # two tracks, four rows each
    for item in audio_checks:
        assert item.get("status") == 200 and item.get("seconds", 0) == pytest.approx(6.0, abs=0.2), item
    assert seen["check"]["images"] and all(i["ok"] for i in seen["check"]["images"]), seen["check"]["images"]
    shot = np.asarray(Image.open(io.BytesIO(seen["screenshot"])).convert("L"), np.float32)
    assert shot.std() > 10 and (shot < 128).mean() > 0.005  # text, tables and pictures: not a blank page


@pytest.mark.slow
def test_sisec_protocol_scores_full_band_stereo_as_museval(tiny_stores, tmp_path):
    """A real separation (an untrained C-U-Net, full band, 44.1 kHz stereo) scored by the sisec protocol
    equals museval's v4 within 0.01 dB; the oracle rows are at full band too."""
    import keras
    import museval

    from cunet import config as config_io
    from cunet.evaluation.sisec import full_band_tracks, score_targets, sisec_rows
    from cunet.models import ModelConfig, build_model
    from cunet.models.card import card_for, save_card
    from cunet.separation.load import load_separator
    from cunet.store import Store

    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="cunet", film="complex", control="cnn", first_filters=4)
    build_model(cfg).save(tmp_path / "model.keras")
    config_io.save(cfg, tmp_path / "model_config.json")
    save_card(card_for(cfg), tmp_path)
    separator = load_separator(tmp_path, precision="float32")
    track = next(full_band_tracks(Store(tiny_stores / "musdb")))
    assert track.rate == 44100 and track.mixture.shape[0] == 2 and track.references.shape[:2] == (4, 2)
    est = separator.separate(track.mixture, track.rate)
    ours = score_targets(track, est)
    refs = np.stack([r.T for r in track.references])
    sdr, isr, sir, sar = museval.evaluate(refs, np.stack([est[t].T for t in SOURCES]), win=44100, hop=44100)
    for i, target in enumerate(SOURCES):
        for name, theirs in (("sdr", sdr), ("isr", isr), ("sir", sir), ("sar", sar)):
            assert ours[target][f"{name}_v4"] == pytest.approx(float(np.nanmedian(theirs[i])), abs=0.01)
    rows = sisec_rows(track, [("cunet", separator)])
    models = {r.model for r in rows}
    assert models == {"mixture", "IRM1", "IRM2", "cunet"} and {r.protocol for r in rows} == {"sisec"}
    irm1 = {r.target: r.value for r in rows if r.model == "IRM1" and r.metric == "sdr_v4"}
    mixture = {r.target: r.value for r in rows if r.model == "mixture" and r.metric == "sdr_v4"}
    assert all(irm1[t] > mixture[t] + 5 for t in SOURCES), (irm1, mixture)
