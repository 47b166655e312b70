"""Y-Net input level: trained on clips over their own peak ("peak") or over the mixture slots ("slots").

    python bench/ynet_level.py --store quality_work/small-seed0/stores/acappella \
        --runs quality_work/norm/ynet-landmarks-slots quality_work/small-seed0/runs/ynet-landmarks ...

Each run is scored on the store's test clips (BSS Eval v3 on the target voice, as the paper protocol)
with the test mixtures at the level training mixtures have (gain 1) and at other gains, as a user's file
would come: a separator that computes its input level from the input gives the same score at every gain.
Paired differences between consecutive runs (peak - slots when given in that order) come with their 95 %
bootstrap interval and Wilcoxon p (cunet/evaluation/stats.py).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

GAINS = (1.0, 0.1, 3.0)


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def scores(run: Path, store_path: Path, gains, seed: int) -> dict:
    """{(singers, gain): per-clip SDR v3 of the target voice} for one run."""
    from cunet.evaluation.examples import singing_examples
    from cunet.evaluation.scoring import score
    from cunet.models.run import load_run
    from cunet.separation.load import load_separator
    from cunet.separation.streaming import SeparateConfig
    from cunet.store import Store

    separator = load_separator(load_run(run), SeparateConfig(precision="float32"))
    out: dict = {}
    for ex in singing_examples(Store(store_path), seed):
        own = ex.visual.get(separator.visual) if separator.visual != "none" else None
        for g in gains:
            estimate = separator.separate(g * ex.mixture, ex.rate, visual=own)["vocals"] / g
            out.setdefault((ex.target, g), []).append(score(ex, estimate, v4=False)["sdr"])
    return {k: np.asarray(v) for k, v in out.items()}


def main(argv=None) -> int:
    from cunet.evaluation.stats import paired_difference

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, type=Path, help="the singing store the runs were trained on")
    p.add_argument("--runs", nargs="+", required=True, type=Path, help="run folders, in pairs (slots, peak)")
    p.add_argument("--gains", nargs="+", type=float, default=GAINS)
    p.add_argument("--seed", type=int, default=0, help="the test mixtures' seed (as results --seed)")
    args = p.parse_args(argv)
    from cunet.models.run import load_run

    found = {run: scores(run, args.store, args.gains, args.seed) for run in args.runs}
    print(f"CPU: {cpu()}; store {args.store}; median SDR v3 (dB) of the target voice over the test clips\n")
    keys = sorted(next(iter(found.values())))
    head = " | ".join(f"{t}, x{g:g}" for t, g in keys)
    print(f"| run | level rule | {head} |\n|---|---|" + "---:|" * len(keys))
    for run, s in found.items():
        rule = load_run(run).card.mixture_level
        print(f"| {run.name} | {rule} | " + " | ".join(f"{np.median(s[k]):.2f}" for k in keys) + " |")
    runs = list(found)
    print("\nPaired differences per clip (second run - first), median [95 % bootstrap interval], Wilcoxon p:\n")
    for a, b in zip(runs[::2], runs[1::2]):
        for k in keys:
            d = paired_difference(found[b][k], found[a][k])
            print(
                f"- {b.name} - {a.name}, {k[0]}, x{k[1]:g}: {d.median:+.2f} dB "
                f"[{d.low:+.2f}, {d.high:+.2f}], p = {d.p_value:.3f}, n = {d.n}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
