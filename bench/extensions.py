"""Which extension above the model's band gives the better full-band stems? Measured side by side.

A C-U-Net (complex FiLM, cnn control; the quality benchmark's small budget) separates the test songs of
the embedded dataset (MUSDB18-HQ layout, 44.1 kHz stereo) at full band once per extension; every stem is
scored with BSS Eval v4 as SiSEC 2018 does (cunet's implementation, equal to museval: framewise over 1 s
windows, the median over windows, then over tracks) against the full-band stereo reference. The mixture
as the estimate is the lower bound, and ``band-limited`` keeps what a magnitude model estimates alone
(its band, as cunet wrote stems before full-band separation).

    python bench/extensions.py [--model RUN] [--out bench/results/extensions.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TARGETS = ("bass", "drums", "other", "vocals")
WORK = Path("quality_work/extensions")
TRAIN = [
    "--model",
    "cunet",
    "--film",
    "complex",
    "--control",
    "cnn",
    "--epochs",
    "28",
    "--steps",
    "16",
    "--batch-size",
    "8",
    "--set",
    "model.first_filters=8",
    "--seed",
    "0",
    "--quiet",
]


def trained_model() -> Path:
    run = WORK / "cunet-complex-cnn"
    if not (run / "model.keras").is_file():
        for cmd in (["-m", "cunet.preprocess"], ["-m", "cunet.train", *TRAIN, "--run-dir", str(run)]):
            subprocess.run([sys.executable, *cmd], check=True)
    return run


def band_limited(x: np.ndarray, rate: int, model_rate: int) -> np.ndarray:
    from cunet import audio

    y = audio.resample(audio.resample(x, rate, model_rate), model_rate, rate)
    return np.pad(y, ((0, 0), (0, max(0, x.shape[1] - y.shape[1]))))[:, : x.shape[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a trained C-U-Net run (default: train one, about 2 minutes)")
    parser.add_argument("--root", default="cunet_data/synthetic/musdb", help="MUSDB18-HQ layout root")
    parser.add_argument("--out")
    args = parser.parse_args()
    model = Path(args.model) if args.model else trained_model()

    from cunet import audio
    from cunet.evaluation.metrics import bss_eval_v4, track_score
    from cunet.separation.load import load_separator

    separators = {e: load_separator(model, extend=e, precision="float32") for e in ("average", "zero")}
    tracks = sorted(p for p in (Path(args.root) / "test").iterdir() if p.is_dir())
    scores: dict[str, list[np.ndarray]] = {}
    start = time.perf_counter()
    for track in tracks:
        x, rate = audio.read(track / "mixture.wav")
        refs = np.stack([audio.read(track / f"{t}.wav")[0].T for t in TARGETS])  # (sources, samples, channels)
        rows = {"mixture": {t: x for t in TARGETS}}
        rows.update({f"extend={e}": sep.separate(x, rate) for e, sep in separators.items()})
        rows["band-limited (the model's band alone)"] = {
            t: band_limited(s, rate, separators["average"].sample_rate) for t, s in rows["extend=average"].items()
        }
        for name, est in rows.items():
            ests = np.stack([est[t].T for t in TARGETS])
            scores.setdefault(name, []).append(track_score(bss_eval_v4(refs, ests, rate)["sdr"]))
    lines = [
        f"BSS Eval v4 SDR (dB; median over 1 s windows, then over {len(tracks)} tracks) of full-band 44.1 kHz "
        f"stereo stems, {model}, measured in {time.perf_counter() - start:.0f} s.",
        "",
        "| estimate | " + " | ".join(TARGETS) + " | mean |",
        "|---|" + "---:|" * (len(TARGETS) + 1),
    ]
    for name, per_track in scores.items():
        med = np.nanmedian(np.stack(per_track), axis=0)
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in med) + f" | {np.mean(med):.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
