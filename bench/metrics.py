"""Seconds to score one separated track: cunet's BSS Eval v3 / v4 against mir_eval and museval, side by side.

The track: a 3-minute 44.1 kHz stereo song of the embedded dataset; the estimate of its vocals, a
time-smoothed ratio mask on the mixture STFT (so it has real interference and artefacts); the
accompaniment estimate is the mixture minus that. v3 is scored as the papers do (mono, 8192 Hz, whole
track, references vocals and accompaniment); v4 as SiSEC 2018 (stereo, 44.1 kHz, 1 s windows).

    python bench/metrics.py [--seconds 180] [--out bench/results/metrics_cpu.md]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import time
import warnings

import mir_eval
import museval
import numpy as np
from scipy.ndimage import uniform_filter1d

from cunet import audio
from cunet.datasets.synthetic import music_track
from cunet.evaluation import metrics


def separation(seconds: float, rate: int, mono: bool):
    stems = {k: v.astype(np.float32) / 32768 for k, v in music_track(0, 0, seconds).items()}
    vocals, accomp = stems["vocals"], stems["drums"] + stems["bass"] + stems["other"]
    vocals, accomp = audio.resample(vocals, 44100, rate), audio.resample(accomp, 44100, rate)
    if mono:
        vocals, accomp = vocals.mean(0, keepdims=True), accomp.mean(0, keepdims=True)
    cfg = audio.StftConfig(rate, 1024 if rate < 20000 else 4096, 256 if rate < 20000 else 1024)
    mix = vocals + accomp
    mask = uniform_filter1d(np.abs(audio.stft(vocals, cfg)) / (np.abs(audio.stft(mix, cfg)) + 1e-8), 9, axis=-1)
    est = audio.istft(mask.clip(0, 1) * audio.stft(mix, cfg), cfg, length=mix.shape[-1])
    return (np.stack([vocals, accomp]).astype(np.float64), np.stack([est, mix - est]).astype(np.float64))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)  # mir_eval's notice that museval exists

    refs, ests = separation(args.seconds, 8192, mono=True)
    ours3, t_ours3 = timed(lambda: metrics.bss_eval_v3(refs[:, 0], ests[:, 0]))
    ref3, t_ref3 = timed(
        lambda: mir_eval.separation.bss_eval_sources(refs[:, 0], ests[:, 0], compute_permutation=False)
    )
    refs, ests = separation(args.seconds, 44100, mono=False)
    ref_t, est_t = refs.transpose(0, 2, 1), ests.transpose(0, 2, 1)
    ours4, t_ours4 = timed(lambda: metrics.bss_eval_v4(ref_t, est_t, rate=44100))
    ref4, t_ref4 = timed(lambda: museval.evaluate(ref_t, est_t, win=44100, hop=44100))

    v3_diff = max(float(np.max(np.abs(ours3[k] - r))) for k, r in zip(("sdr", "sir", "sar"), ref3[:3]))
    v4_diff = max(float(np.nanmax(np.abs(ours4[k] - r))) for k, r in zip(("sdr", "isr", "sir", "sar"), ref4))
    mir_eval_version, museval_version = (importlib.metadata.version(m) for m in ("mir_eval", "museval"))
    lines = [
        f"Scoring one {args.seconds:.0f} s track (vocals and accompaniment), {os.cpu_count()} CPU cores.",
        "",
        "| score | cunet | reference | speed-up | vocals SDR cunet / reference | largest difference |",
        "|---|---:|---:|---:|---:|---:|",
        f"| BSS Eval v3, 8192 Hz mono, whole track | {t_ours3:.2f} s | {t_ref3:.2f} s (mir_eval "
        f"{mir_eval_version}) | {t_ref3 / t_ours3:.1f}x | {ours3['sdr'][0]:.3f} / {ref3[0][0]:.3f} dB "
        f"| {v3_diff:.1e} dB |",
        f"| BSS Eval v4, 44.1 kHz stereo, 1 s windows | {t_ours4:.2f} s | {t_ref4:.2f} s (museval "
        f"{museval_version}) | {t_ref4 / t_ours4:.1f}x | {metrics.track_score(ours4['sdr'])[0]:.3f} / "
        f"{np.nanmedian(ref4[0][0]):.3f} dB | {v4_diff:.1e} dB |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
