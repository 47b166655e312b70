"""The quality benchmark: its claims arithmetic, and the whole pipeline at toy size through its command."""

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_quality():
    spec = importlib.util.spec_from_file_location("quality", ROOT / "bench" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality"] = module
    spec.loader.exec_module(module)
    return module


quality = load_quality()


def test_claims_follow_the_scores():
    sdr = {("vocals", "mixture"): -2.0, ("vocals", "IRM1"): 18.0}
    for t, u in zip(quality.TARGETS, (4.0, 5.0, 3.0, 12.0)):
        sdr[t, f"unet-{t}"] = u
        sdr[t, f"unet-{t}-quarter"] = u - 1.0
        sdr[t, "cunet-simple-dense"] = u - 0.3  # within 0.5 dB everywhere
        sdr[t, "cunet-complex-cnn"] = u + (1.0 if t != "drums" else -2.0)  # better, except drums
    sdr.update(
        {
            (quality.TWO, "ynet-landmarks"): 4.0,
            (quality.TWO, "ynet-landmarks (other singer)"): 2.0,
            (quality.TWO, "ynet-none"): -2.0,
            (quality.ONE, "ynet-landmarks"): 9.0,
            (quality.ONE, "ynet-none"): 10.0,
        }
    )
    models = (
        [f"unet-{t}" for t in quality.TARGETS]
        + [f"unet-{t}-quarter" for t in quality.TARGETS]
        + ["cunet-simple-dense", "cunet-complex-cnn", "ynet-landmarks", "ynet-none"]
    )
    found = {
        c["claim"].split(" (")[0] if c["claim"].startswith("one") else c["claim"]: c
        for c in quality.claims(sdr, models)
    }
    match = found["one C-U-Net matches the four dedicated U-Nets on every target, the same examples per model"]
    assert match["measured"] == pytest.approx(-0.3) and match["holds"]  # simple-dense: its worst is -0.3
    assert "drums -2.00" in match["detail"]
    # against U-Nets that saw a quarter of the examples (1 dB worse here), simple-dense is +0.7 everywhere
    quarter = found["one C-U-Net matches the four dedicated U-Nets on every target, the same examples per source"]
    assert quarter["measured"] == pytest.approx(0.7) and quarter["holds"] and "drums -1.00" in quarter["detail"]
    share = next(c for c in found.values() if "IRM1" in c["claim"])
    # the best vocals model is complex-cnn at 13 dB: 15 dB of IRM1's 20 dB gain
    assert "cunet-complex-cnn" in share["claim"] and share["measured"] == pytest.approx(0.75) and share["holds"]
    two = found["2 singers: ynet-landmarks beats audio-only ynet-none"]
    assert two["measured"] == pytest.approx(6.0) and two["holds"]
    other = found["2 singers: ynet-landmarks loses with the other singer's landmarks"]
    assert other["measured"] == pytest.approx(2.0) and not other["holds"]
    one = found["1 singer: ynet-landmarks no worse than audio-only ynet-none"]
    assert one["measured"] == pytest.approx(-1.0) and not one["holds"]
    assert len(found) == 6  # no video model trained: no video claims


def test_model_names_map_to_train_flags():
    assert quality.model_flags("cunet-complex-cnn") == ["--model", "cunet", "--film", "complex", "--control", "cnn"]
    assert quality.model_flags("unet-bass") == ["--model", "unet", "--target", "bass"]
    with pytest.raises(ValueError, match="unet-guitar"):
        quality.model_flags("unet-guitar")
    original = quality.model_flags("cunet-complex-cnn-original")  # the ablation: the original's FiLM start
    assert original[:6] == quality.model_flags("cunet-complex-cnn") and "model.film_gamma_offset=0" in original
    assert len(quality.all_models(quality.BUDGETS["small"])) == 15
    small = quality.BUDGETS["small"]
    assert quality.train_flags("unet-bass-quarter", small)[-2:] == ["--epochs", "7"]  # 28 / 4, the last one counts
    assert quality.train_flags("unet-bass-quarter", small)[:4] == quality.train_flags("unet-bass", small)[:4]
    with pytest.raises(ValueError, match="do not divide"):
        quality.train_flags("unet-bass-quarter", quality.BUDGETS["toy"])
    with pytest.raises(ValueError, match="only a U-Net"):
        quality.model_flags("cunet-simple-cnn-quarter")


@pytest.mark.slow
def test_toy_pipeline_writes_parseable_report(tiny_stores, tmp_path):
    """train a step or two -> results -> report, through the benchmark's command, on the session's tiny stores
    (the toy budget's own preprocessing makes the same ones: --music-store and --singing-store skip it)."""
    out = tmp_path / "report"
    models = ["unet-vocals", "ynet-landmarks", "ynet-none"]
    stores = ["--music-store", str(tiny_stores / "musdb"), "--singing-store", str(tiny_stores / "acappella")]
    argv = ["--budget", "toy", "--models", *models, *stores, "--work", str(tmp_path / "work"), "--out", str(out)]
    assert quality.main(argv) == 0
    assert {
        "claims.json",
        "per_track.csv",
        "report.md",
        "sdr_boxplot.png",
        "summary.csv",
        "summary.md",
        "report.html",
        "listen",
    } <= {p.name for p in out.iterdir()}
    assert (out / "listen").is_dir() and "<audio" in (out / "report.html").read_text()
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    present = {quality.claim_key(r) for r in rows if r["metric"] == "sdr"}  # from typed columns, no label
    for target in ("vocals", quality.ONE, quality.TWO):
        assert {(target, o) for o in ("mixture", "IRM1", "IRM2")} <= present
    assert ("vocals", "unet-vocals") in present
    for target in (quality.ONE, quality.TWO):
        assert {(target, m) for m in ("ynet-none", "ynet-landmarks", "ynet-landmarks (other singer)")} <= present
    medians = {(r["target"], r["model"], r["metric"]): float(r["median"]) for r in rows if r["protocol"] == "paper"}
    assert medians["vocals", "IRM1", "sdr"] > medians["vocals", "mixture", "sdr"] + 5
    with open(out / "per_track.csv") as f:
        values = [float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "sdr"]
    assert values and all(math.isfinite(v) for v in values)
    claims = json.loads((out / "claims.json").read_text())
    # paper: the vocals share and the three Y-Net claims for landmarks; sisec: the vocals share
    assert [c["protocol"] for c in claims] == ["paper"] * 4 + ["sisec"]
    report = (out / "report.md").read_text()
    assert all(m in report for m in models) and report.count("| yes |") + report.count("| **no** |") == 5

    import matplotlib.image

    image = matplotlib.image.imread(out / "sdr_boxplot.png")
    assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0


def test_claim_keys_come_from_typed_columns():
    row = {"target": "voice", "singers": "2", "loudness": "1.0", "model": "ynet-landmarks", "frames": "other"}
    assert quality.claim_key(row) == (quality.TWO, "ynet-landmarks (other singer)")
    assert quality.claim_key({**row, "singers": "1.0", "frames": "own"}) == (quality.ONE, "ynet-landmarks")
    assert quality.claim_key({"target": "vocals", "singers": "", "model": "unet-vocals", "frames": ""}) == (
        "vocals",
        "unet-vocals",
    )


def test_claims_with_per_track_scores_hold_only_when_the_interval_clears():
    tracks = {}
    sdr = {("vocals", "mixture"): -2.0, ("vocals", "IRM1"): 18.0}
    offsets = (0.2, -0.1, 0.3, -0.2, 0.1, 0.0, -0.3, 0.2)  # the C-U-Net against each U-Net, per track
    for t in quality.TARGETS:
        base = {f"s{i}": 5.0 + i for i in range(8)}
        tracks[t, f"unet-{t}"] = base
        tracks[t, "cunet-complex-cnn"] = {k: v + offsets[i] for i, (k, v) in enumerate(base.items())}
        sdr[t, f"unet-{t}"], sdr[t, "cunet-complex-cnn"] = 8.5, 8.5
    voices = {f"c{i}": float(i) for i in range(12)}
    tracks[quality.TWO, "ynet-landmarks"] = {k: v + 6.0 for k, v in voices.items()}
    tracks[quality.TWO, "ynet-none"] = voices
    tracks[quality.TWO, "ynet-landmarks (other singer)"] = {
        k: v + 6.0 - (4 if i % 2 else 1) for i, (k, v) in enumerate(voices.items())
    }
    tracks[quality.ONE, "ynet-landmarks"] = tracks[quality.ONE, "ynet-none"] = voices
    models = [f"unet-{t}" for t in quality.TARGETS] + ["cunet-complex-cnn", "ynet-landmarks", "ynet-none"]
    found = {c["claim"].split(" (")[0]: c for c in quality.claims(sdr, models, tracks)}
    match = found["one C-U-Net matches the four dedicated U-Nets on every target, the same examples per model"]
    low, high = match["interval"]
    assert low <= match["measured"] <= high and low >= -0.5 and match["holds"] and match["tracks"] == 8
    beats = found["2 singers: ynet-landmarks beats audio-only ynet-none"]
    assert beats["measured"] == 6.0 and beats["interval"] == [6.0, 6.0] and beats["holds"]
    other = found["2 singers: ynet-landmarks loses with the other singer's landmarks"]
    # median loss 2.5 dB, interval from 1 to 4: the claim (>= 3 dB) does not hold on these tracks
    assert other["interval"][0] < 3.0 < other["interval"][1] and not other["holds"]
    same = found["1 singer: ynet-landmarks no worse than audio-only ynet-none"]
    assert same["interval"] == [0.0, 0.0] and same["p_value"] == 1.0 and same["holds"]
    sisec = quality.claims(sdr, models, tracks, protocol="sisec")
    assert {c["protocol"] for c in sisec} == {"sisec"} and not any("singer" in c["claim"] for c in sisec)


def _music_scores(songs, cunet_offsets, prefix="t"):
    """Per-track SDR of the four U-Nets and of C-U-Net variants {variant: {target: offsets per song}}."""
    tracks = {}
    for t in quality.TARGETS:
        base = {f"{prefix}{i}": 5.0 + i for i in range(songs)}
        tracks[t, f"unet-{t}"] = base
        for variant, offsets in cunet_offsets.items():
            tracks[t, variant] = {k: v + offsets[t][i] for i, (k, v) in enumerate(base.items())}
    return tracks


def _medians(tracks):
    import statistics

    sdr = {k: statistics.median(v.values()) for k, v in tracks.items()}
    sdr.update({("vocals", "mixture"): -2.0, ("vocals", "IRM1"): 18.0})
    return sdr


def _match(found):
    return next(c for c in found if c["claim"].startswith("one C-U-Net matches"))


def test_a_claim_that_fails_shows_the_target_that_fails():
    # vocals has the worst median (-0.10) and a tight interval; drums a better median (-0.05) but one whose
    # interval reaches -1.2: drums is what fails, so drums is what the row shows
    offsets = {
        "bass": [0.2] * 12,
        "other": [0.1] * 12,
        "vocals": [-0.1] * 12,
        "drums": [-1.2, -1.1, -1.0, -0.05, -0.05, -0.05, -0.05, 0.3, 0.4, 0.5, 0.6, 0.7],
    }
    tracks = _music_scores(12, {"cunet-complex-cnn": offsets})
    models = [f"unet-{t}" for t in quality.TARGETS] + ["cunet-complex-cnn"]
    match = _match(quality.claims(_medians(tracks), models, tracks))
    assert not match["holds"] and match["target"] == "drums" and "fails on: drums" in match["claim"]
    # n = 12: the 3rd smallest and largest differences, 96.1 % coverage
    assert match["measured"] == pytest.approx(-0.05) and match["interval"] == pytest.approx([-1.0, 0.5])
    assert match["coverage"] == pytest.approx(0.9614, abs=1e-4)
    offsets["drums"] = [0.0] * 12  # now every target clears -0.5: the row shows the worst median, vocals
    tracks = _music_scores(12, {"cunet-complex-cnn": offsets})
    match = _match(quality.claims(_medians(tracks), models, tracks))
    assert match["holds"] and match["target"] == "vocals" and "its worst target: vocals" in match["claim"]
    assert match["measured"] == pytest.approx(-0.1) and match["interval"] == pytest.approx([-0.1, -0.1])


def test_the_best_variant_is_chosen_on_the_validation_songs():
    flat = {t: [0.0] * 12 for t in quality.TARGETS}
    low = {t: [-0.3] * 12 for t in quality.TARGETS}
    # on the test songs simple-dense is the better (0 against -0.3); on the validation songs complex-cnn is
    test = _music_scores(12, {"cunet-simple-dense": flat, "cunet-complex-cnn": low})
    valid = _music_scores(
        2,
        {
            "cunet-simple-dense": {t: [-1.0, -1.0] for t in quality.TARGETS},
            "cunet-complex-cnn": {t: [0.5, 0.5] for t in quality.TARGETS},
        },
        prefix="v",
    )
    models = [f"unet-{t}" for t in quality.TARGETS] + ["cunet-simple-dense", "cunet-complex-cnn"]
    found = quality.claims(_medians(test), models, test, valid=valid)
    match = _match(found)
    assert match["model"] == "cunet-complex-cnn" and match["chosen_on"] == "validation songs (n = 2)"
    assert match["measured"] == pytest.approx(-0.3) and "chosen on the validation songs" in match["claim"]
    # the vocals model too: complex-cnn on validation (6.0 dB), though the U-Net's 10.5 on test beats its 10.2
    share = next(c for c in found if "IRM1" in c["claim"])
    assert share["model"] == "cunet-complex-cnn" and share["measured"] == pytest.approx((10.2 + 2) / 20)
    without = quality.claims(_medians(test), models, test)  # no validation scores: chosen on the test songs
    assert _match(without)["model"] == "cunet-simple-dense" and _match(without)["chosen_on"].startswith("test songs")
    assert next(c for c in without if "IRM1" in c["claim"])["model"] == "unet-vocals"
    text = quality.report("small", quality.BUDGETS["small"], "data", {}, {}, found, "")
    assert "chosen on the validation songs (n = 2)" in text and "order statistics" in text


def test_four_songs_give_no_interval_and_no_claim():
    # every difference clears -0.5 dB, but 4 songs cannot give a 95 % interval: the claim does not hold
    offsets = {t: [0.1, 0.2, 0.3, 0.4] for t in quality.TARGETS}
    tracks = _music_scores(4, {"cunet-complex-cnn": offsets})
    models = [f"unet-{t}" for t in quality.TARGETS] + ["cunet-complex-cnn"]
    found = quality.claims(_medians(tracks), models, tracks)
    match = _match(found)
    assert not match["holds"] and match["interval"] is None and match["tracks"] == 4
    assert match["p_value"] == match["p_min"] == 0.125
    row = next(
        line
        for line in quality.report("small", quality.BUDGETS["small"], "data", {}, {}, found, "").splitlines()
        if line.startswith("| one C-U-Net")
    )
    assert "| too few tracks (n=4, best coverage 87.5%) | 0.125 (min 0.125) |" in row and row.endswith("| **no** |")
