"""cunet's BSS Eval v3 / v4 and SI-SDR against mir_eval and museval, on real mask-based separations."""

import math
import warnings

import mir_eval
import museval
import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from cunet import audio
from cunet.datasets.synthetic import music_track
from cunet.evaluation import metrics

TOL_DB = 0.01


def _separation(seconds: float, rate: int, mono: bool, seed: int = 0):
    """References (vocals, accompaniment) and the estimates of a smoothed ratio mask on the mixture STFT.

    The mask is blurred over time, so the estimate has interference and artefacts like a real system's.
    """
    stems = {k: v.astype(np.float64) / 32768 for k, v in music_track(seed, 0, seconds).items()}
    vocals = stems["vocals"]
    accomp = stems["drums"] + stems["bass"] + stems["other"]
    if rate != 44100:
        vocals, accomp = (
            audio.resample(x.astype(np.float32), 44100, rate).astype(np.float64) for x in (vocals, accomp)
        )
    if mono:
        vocals, accomp = vocals.mean(0, keepdims=True), accomp.mean(0, keepdims=True)
    cfg = audio.StftConfig(rate, 1024, 256)
    mix = vocals + accomp
    spec_v, spec_m = audio.stft(vocals, cfg), audio.stft(mix, cfg)
    mask = uniform_filter1d(np.abs(spec_v) / (np.abs(spec_m) + 1e-8), 9, axis=-1).clip(0, 1)
    est = audio.istft(mask * spec_m, cfg, length=mix.shape[-1]).astype(np.float64)
    refs = np.stack([vocals, accomp])  # (2, channels, samples)
    ests = np.stack([est, mix - est])
    return refs, ests


def test_v3_agrees_with_mir_eval_bss_eval_sources():
    refs, ests = _separation(6.0, 8192, mono=True)
    ours = metrics.bss_eval_v3(refs[:, 0], ests[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mir_eval points users at museval
        sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(refs[:, 0], ests[:, 0], compute_permutation=False)
    for name, want in (("sdr", sdr), ("sir", sir), ("sar", sar)):
        np.testing.assert_allclose(ours[name], want, atol=TOL_DB, err_msg=name)
    mixture = metrics.bss_eval_v3(refs[:, 0], np.stack([refs.sum(0)[0]] * 2))
    assert ours["sdr"][0] > mixture["sdr"][0] + 3  # a real separation: well above the mixture


@pytest.mark.slow
def test_v4_agrees_with_museval_framewise_and_per_track():
    refs, ests = _separation(5.5, 44100, mono=False)
    ref_t, est_t = refs.transpose(0, 2, 1), ests.transpose(0, 2, 1)  # museval: (sources, samples, channels)
    ours = metrics.bss_eval_v4(ref_t, est_t, rate=44100)
    want = dict(zip(("sdr", "isr", "sir", "sar"), museval.evaluate(ref_t, est_t, win=44100, hop=44100)))
    assert ours["sdr"].shape == want["sdr"].shape == (2, 5)  # whole windows only
    for name in want:
        np.testing.assert_allclose(ours[name], want[name], atol=TOL_DB, err_msg=name)
        np.testing.assert_allclose(metrics.track_score(ours[name]), np.nanmedian(want[name], axis=1), atol=TOL_DB)


def test_v4_silent_window_is_nan_like_museval():
    refs, ests = _separation(4.0, 8000, mono=False)
    ref_t, est_t = refs.transpose(0, 2, 1).copy(), ests.transpose(0, 2, 1).copy()
    ref_t[0, 8000:16000] = 0  # the vocals rest for exactly the second window
    ours = metrics.bss_eval_v4(ref_t, est_t, rate=8000)
    want = museval.evaluate(ref_t, est_t, win=8000, hop=8000)[0]
    assert np.isnan(ours["sdr"][:, 1]).all() and np.isnan(want[:, 1]).all()
    np.testing.assert_allclose(ours["sdr"], want, atol=TOL_DB)
    assert np.isfinite(metrics.track_score(ours["sdr"])).all()


@pytest.mark.parametrize("which", ["reference", "estimate"])
def test_silent_signals_give_nan_and_a_warning(which):
    refs, ests = _separation(2.0, 8192, mono=True)
    refs, ests = refs[:, 0].copy(), ests[:, 0].copy()
    (refs if which == "reference" else ests)[0] = 0
    with pytest.warns(metrics.SilentSignalWarning):
        v3 = metrics.bss_eval_v3(refs, ests)
    with pytest.warns(metrics.SilentSignalWarning):
        v4 = metrics.bss_eval_v4(refs[..., None], ests[..., None], rate=8192)
    with pytest.warns(metrics.SilentSignalWarning):
        si = metrics.si_sdr(refs[0], ests[0])
    assert np.isnan(v3["sdr"]).all() and np.isnan(v4["sdr"]).all() and np.isnan(si)


def test_si_sdr_is_scale_invariant_and_matches_its_definition():
    refs, ests = _separation(3.0, 8192, mono=True)
    ref, est = refs[0, 0], ests[0, 0]
    value = metrics.si_sdr(ref, est)
    assert value == pytest.approx(metrics.si_sdr(ref, 0.1 * est), abs=1e-9)
    r, e = ref - ref.mean(), est - est.mean()
    target = (e @ r) / (r @ r) * r
    assert value == pytest.approx(10 * np.log10((target @ target) / ((e - target) @ (e - target))), abs=1e-9)
    assert value > metrics.si_sdr(ref, refs[:, 0].sum(0)) + 3


def test_lengths_and_shapes_are_checked():
    refs, ests = _separation(2.0, 8192, mono=True)
    short = metrics.bss_eval_v3(refs[:, 0], ests[:, 0, :-100])  # estimates are zero-padded, as museval does
    assert np.isfinite(short["sdr"]).all()
    with pytest.raises(ValueError, match="references"):
        metrics.bss_eval_v4(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="2 references but 1 estimates"):
        metrics.bss_eval_v3(refs[:, 0], ests[:1, 0])


def test_paired_difference_of_a_model_with_itself_is_exactly_zero():
    from cunet.evaluation.stats import paired_difference

    scores = np.random.default_rng(0).normal(5, 2, 50)
    same = paired_difference(scores, scores)
    assert (same.median, same.low, same.high, same.p_value, same.n) == (0.0, 0.0, 0.0, 1.0, 50)


def test_paired_difference_interval_sign_test_and_missing_tracks():
    from scipy.stats import binomtest

    from cunet.evaluation.stats import paired_difference

    rng = np.random.default_rng(1)
    b = rng.normal(5, 2, 40)
    shift = paired_difference(b + 1.0, b)  # every track exactly 1 dB better: no spread at all
    assert shift.median == shift.low == shift.high == pytest.approx(1.0)
    a = b + rng.normal(0.5, 1.0, 40)
    d = paired_difference(a, b)
    ranked = np.sort(a - b)
    # n = 40: the 14th smallest and largest differences cover 1 - 2 P(Bin(40, 1/2) <= 13) = 96.15 %; the
    # 15th would cover 91.9 %
    assert (d.low, d.high) == (ranked[13], ranked[26])
    assert d.coverage == pytest.approx(1 - 2 * sum(math.comb(40, i) for i in range(14)) / 2**40)
    assert d.p_value == pytest.approx(binomtest(int((a > b).sum()), 40).pvalue)
    a[:3], a[5] = np.nan, np.inf
    gaps = paired_difference(a, b)
    assert (gaps.n, gaps.dropped) == (36, 4)
    none = paired_difference(np.full(3, np.nan), np.ones(3))
    assert none.n == 0 and np.isnan(none.median)


def test_four_tracks_give_no_interval_and_say_why():
    from cunet.evaluation.stats import paired_difference

    d = paired_difference([1.0, 2.5, 0.5, 3.0], [0.0, 0.0, 0.0, 0.0])
    assert d.median == 1.75 and not d.has_interval and np.isnan(d.low) and np.isnan(d.high)
    assert d.interval_text() == "too few tracks (n=4, best coverage 87.5%)"
    # four positive differences: the sign test's smallest p, 2 / 2^4, which is shown as such
    assert d.p_value == d.p_min == 0.125 and d.p_text() == "0.125 (min 0.125)"
    assert "[" not in str(d)
    six = paired_difference(np.arange(6.0) + 1, np.zeros(6))  # n = 6 is the first to reach 95 %
    assert (six.low, six.high) == (1.0, 6.0) and six.coverage == pytest.approx(1 - 2 / 64)
    assert six.interval_text() == "[+1.00, +6.00] (96.9%)" and six.p_text() == "0.031"


@pytest.mark.parametrize("n", [6, 8, 12, 50])
def test_median_interval_covers_the_true_median_on_skewed_differences(n):
    """Simulated per-track differences from skewed and heavy-tailed distributions of known median: the
    interval holds the median at least 95 % of the time and as often as the coverage it reports."""
    from cunet.evaluation.stats import paired_difference

    rng = np.random.default_rng(n)
    sims = 2000
    draws = {
        "lognormal": (rng.lognormal(0.0, 1.0, (sims, n)), 1.0),  # median e^0
        "exponential": (rng.exponential(2.0, (sims, n)) - 1.0, 2.0 * np.log(2) - 1.0),
        "student t, 2 dof": (rng.standard_t(2, (sims, n)) + 0.3, 0.3),
    }
    zeros = np.zeros(n)
    for name, (samples, median) in draws.items():
        found = [paired_difference(s, zeros) for s in samples]
        assert all(f.has_interval for f in found)
        covered = np.mean([f.low <= median <= f.high for f in found])
        stated = found[0].coverage
        assert stated >= 0.95 and covered >= 0.95, (name, covered, stated)
        assert abs(covered - stated) < 4 * np.sqrt(stated * (1 - stated) / sims) + 1e-9, (name, covered, stated)


def test_v4_with_a_mono_stem_in_stereo_still_agrees_with_museval():
    """Identical channels make the references' Gram matrix singular but for the regularisation: the filters
    must still come out (museval copes the same way)."""
    rng = np.random.default_rng(3)
    n = 3 * 8000
    refs = rng.standard_normal((2, n, 2)) * 0.1
    refs[0, :, 1] = refs[0, :, 0]  # a mono bass line, copied to both channels
    ests = 0.8 * refs + 0.2 * refs[::-1] + 0.01 * rng.standard_normal(refs.shape)
    ours = metrics.bss_eval_v4(refs, ests, rate=8000)
    sdr, isr, sir, sar = museval.evaluate(refs, ests, win=8000, hop=8000)
    np.testing.assert_allclose(ours["sdr"], sdr, atol=0.01)
