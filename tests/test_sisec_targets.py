"""The sisec protocol's scores of a model that gives only some targets equal museval's with every reference."""

import museval
import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from cunet import audio
from cunet.datasets.musdb import SOURCES
from cunet.datasets.synthetic import music_track
from cunet.evaluation import sisec
from cunet.evaluation.sisec import FullBandTrack

RATE = 8000
TOL_DB = 0.01


@pytest.fixture(scope="module")
def song():
    """A 3-s mono synthetic song at 8 kHz, its four stems and a blurred ratio-mask estimate of each.

    A little white noise in every stem keeps the four references' 512-tap projection well conditioned: the
    synthetic instruments alone are nearly band-limited, where any two least-squares solvers disagree.
    """
    rng = np.random.default_rng(1)
    stems = {
        k: audio.resample((v[:1] / 32768).astype(np.float32), 44100, RATE).astype(np.float64)
        for k, v in music_track(0, 0, 3.0).items()
    }
    refs = np.stack([stems[s] for s in SOURCES])
    refs = refs + 0.003 * rng.standard_normal(refs.shape)
    mixture = refs.sum(0)
    cfg = audio.StftConfig(RATE, 512, 128)
    spec_mix = audio.stft(mixture, cfg)
    ests = []
    for ref in refs:
        mask = uniform_filter1d(np.abs(audio.stft(ref, cfg)) / (np.abs(spec_mix) + 1e-8), 9, axis=-1).clip(0, 1)
        ests.append(audio.istft(mask * spec_mix, cfg, length=mixture.shape[-1]).astype(np.float64))
    ests = np.stack(ests)
    # museval with every reference and every estimate: a target's scores depend on its estimate only
    scores = museval.evaluate(refs.transpose(0, 2, 1), ests.transpose(0, 2, 1), win=RATE, hop=RATE)
    want = {
        t: {f"{m}_v4": float(np.nanmedian(s[i])) for m, s in zip(("sdr", "isr", "sir", "sar"), scores)}
        for i, t in enumerate(SOURCES)
    }
    return FullBandTrack("song", RATE, refs, mixture, {}), ests, want


@pytest.mark.slow
@pytest.mark.parametrize("targets", [("vocals",), ("bass", "vocals")])
def test_some_targets_score_as_museval_with_every_reference(song, targets):
    track, ests, want = song
    ours = sisec.score_targets(track, {t: ests[SOURCES.index(t)] for t in targets})
    assert set(ours) == set(targets)
    for target in targets:
        assert np.isfinite(ours[target]["sir_v4"])  # the other sources are interference, not +inf
        for metric, value in want[target].items():
            assert ours[target][metric] == pytest.approx(value, abs=TOL_DB), (target, metric)
    assert want["vocals"]["sir_v4"] < 20  # a blurred mask leaves interference: a score, not a formality


def test_an_infinite_score_is_not_counted_as_finite():
    from cunet.evaluation.tables import SISEC, markdown, summarise

    rows = [
        {"track": t, "target": "vocals", "protocol": "sisec", "model": m, "metric": "sir_v4", "value": v}
        for m, values in (("unet-vocals", [np.inf, 12.0, 14.0]), ("cunet", [-np.inf, 8.0, 11.0]))
        for t, v in zip("abc", values)
    ]
    rows += [{**r, "metric": "sdr_v4", "value": 5.0} for r in rows]
    _, summary = summarise(rows)
    sir = summary[summary["metric"] == "sir_v4"].set_index("model")
    assert sir.loc["unet-vocals", "count"] == 2 and sir.loc["unet-vocals", "median"] == 13.0
    assert sir.loc["cunet", "count"] == 2 and sir.loc["cunet", "median"] == 9.5
    assert sir.loc["cunet", "mean"] == 9.5  # not -inf
    table = markdown(summary)
    assert f"### vocals{SISEC}" in table and "| 13.00 |" in table
