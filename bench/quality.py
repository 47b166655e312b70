"""The quality benchmark: train every model under one budget and seed on the embedded dataset, score them
with the oracle rows on the same test tracks, and check the papers' claims against the numbers.

    python bench/quality.py --budget small      # 2 CPU cores, under an hour
    python bench/quality.py --budget paper      # a GPU (the papers' widths and batch sizes)
    python bench/quality.py --budget toy --models unet-vocals cunet-simple-dense   # seconds: a smoke test

Every model of a family sees the same number of training examples: the four dedicated U-Nets (one per
target) and the four C-U-Nets (simple/complex FiLM x dense/cnn control), then the Y-Nets (video,
landmarks, none). Stages are the package's own commands, run as subprocesses: ``cunet.preprocess``,
``cunet.train`` and ``cunet.evaluation.results``, on the test songs and on the validation songs, which
choose the "best" model a claim is about (the claims: ``quality_claims.py``). The work folder keeps the
data, stores and runs, so an interrupted benchmark resumes where it stopped. ``--out`` receives (all or
nothing) ``report.md`` (the budget, the claims and the full tables, also printed), ``claims.json``,
``summary.csv``, ``summary.md``, ``per_track.csv``, ``sdr_boxplot.png`` and the listening report
(``report.html`` and ``listen/``; one track or clip per target).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # quality_claims.py beside it, however this is loaded
from quality_claims import CUNETS, ONE, OTHER, QUARTER, TARGETS, TWO, claims, interval_cell, p_cell  # noqa: E402, F401

VISUALS = ("video", "landmarks", "none")
# Ablations: a C-U-Net variant trained with one of cunet's departures from the original undone.
ABLATIONS = {"original": ("--set", "model.film_gamma_offset=0", "--set", "model.control_dropout=0.5")}
ABLATED = "cunet-complex-cnn"  # the variant the ablations are run on (the C-U-Net paper's best)


@dataclasses.dataclass(frozen=True)
class Budget:
    size: str  # the embedded dataset's size
    preset: str
    music: tuple[str, ...]  # train flags of every unet/cunet run
    ynet: tuple[str, ...]  # train flags of every ynet run
    visuals: tuple[str, ...]  # the Y-Net front ends this budget trains
    ablations: tuple[str, ...]  # keys of ABLATIONS trained on ABLATED
    quarter: bool  # also train each U-Net on a quarter of the examples (unet-<target>-quarter)
    note: str
    max_tracks: int = 0  # score only the first N test (and validation) tracks or clips; 0: all of them


BUDGETS = {
    "toy": Budget(
        "tiny",
        "small",
        ("--epochs", "1", "--steps", "2", "--batch-size", "2", "--set", "model.first_filters=4"),
        ("--epochs", "1", "--steps", "1", "--batch-size", "1"),
        ("landmarks", "none"),
        ablations=(),
        quarter=False,
        note="a smoke test of the pipeline: numbers mean nothing",
        max_tracks=4,  # of the tiny store's 12 singing clips (scored once with one singer, once with two)
    ),
    # 3584 examples per music model (448 steps of 8), 10240 per Y-Net (2560 of 4). The U-Nets are half the
    # paper's width (8 first filters: a quarter of the arithmetic) so that they get twice the steps; so is
    # the ST-GCN, which at full width cost twice the audio network's time. The Y-Nets get the most of the hour:
    # the landmarks model's two-singer lead over audio only grew with examples (+2.2 dB at 1600, +3.4 at
    # 2816, +4.5 at 5632).
    "small": Budget(
        "bench",
        "small",
        ("--epochs", "28", "--steps", "16", "--batch-size", "8", "--set", "model.first_filters=8"),
        (
            "--epochs",
            "160",
            "--steps",
            "16",
            "--batch-size",
            "4",
            "--set",
            "model.graph_widths=[16,16,32,32,64,64,128,128]",
        ),
        ("landmarks", "none"),
        ablations=("original",),
        quarter=True,
        note="2 CPU cores; the video Y-Net is left out (at the original's front-end width one step of 4 "
        "clips took 75 s on 2 cores)",
    ),
    # The papers' networks and batch sizes, far fewer iterations than their days of training.
    "paper": Budget(
        "large",
        "paper",
        ("--epochs", "40", "--steps", "256"),
        ("--epochs", "40", "--steps", "500"),
        VISUALS,
        ablations=tuple(ABLATIONS),
        quarter=True,
        note="one GPU",
    ),
}


def model_flags(name: str) -> list[str]:
    """``cunet.train`` flags that make the run ``name`` (unet-vocals, cunet-complex-cnn, ynet-landmarks,
    cunet-complex-cnn-original)."""
    for ablation, flags in ABLATIONS.items():
        if name == f"{ABLATED}-{ablation}":
            return [*model_flags(ABLATED), *flags]
    kind, _, rest = name.removesuffix(QUARTER).partition("-")
    if name.endswith(QUARTER) and kind != "unet":
        raise ValueError(f"only a U-Net is trained on a quarter of the examples, not {name!r}")
    if kind == "unet" and rest in TARGETS:
        return ["--model", "unet", "--target", rest]
    if kind == "cunet" and rest in CUNETS:
        film, control = rest.split("-")
        return ["--model", "cunet", "--film", film, "--control", control]
    if kind == "ynet" and rest in VISUALS:
        return ["--model", "ynet", "--visual", rest]
    raise ValueError(
        f"unknown model {name!r}: unet-<target>, cunet-<film>-<control>, ynet-<visual> "
        f"or {ABLATED}-<{'|'.join(ABLATIONS)}>, unet-<target>{QUARTER}"
    )


def train_flags(name: str, budget: Budget) -> list[str]:
    """The model's flags, then the budget's; a quarter U-Net runs a quarter of the budget's epochs."""
    flags = model_flags(name)
    flags += budget.ynet if flags[1] == "ynet" else budget.music
    if name.endswith(QUARTER):
        epochs = int(flags[flags.index("--epochs") + 1])
        if epochs % len(TARGETS):
            raise ValueError(f"{name}: the budget's {epochs} epochs do not divide by {len(TARGETS)}")
        flags += ["--epochs", str(epochs // len(TARGETS))]  # argparse keeps the last --epochs
    return flags


def all_models(budget: Budget) -> list[str]:
    return (
        [f"unet-{t}" for t in TARGETS]
        + [f"unet-{t}{QUARTER}" for t in TARGETS if budget.quarter]
        + [f"cunet-{c}" for c in CUNETS]
        + [f"{ABLATED}-{a}" for a in budget.ablations]
        + [f"ynet-{v}" for v in budget.visuals]
    )


TIMING_FILE = "timing.json"  # in the work folder: each stage's wall time when it really ran


def run(cmd: list[str], log: Path) -> float:
    """Run a stage, its output to ``log``; its wall time in seconds (a failure stops the benchmark)."""
    start = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run([sys.executable, *cmd], stdout=f, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"error: {' '.join(cmd)} failed (exit {done.returncode}); its output is in {log}")
    return time.perf_counter() - start


def examples_seen(run_dir: Path) -> int:
    """Training examples of a finished run: batch size x steps x epochs run (early stopping may cut them)."""
    cfg = json.loads((run_dir / "config.json").read_text())["values"]
    with open(run_dir / "history.csv") as f:
        epochs = sum(1 for _ in csv.DictReader(f))
    return cfg["batch_size"] * cfg["steps_per_epoch"] * epochs


def claim_key(row: dict) -> tuple[str, str]:
    """The claims' (target, model) of a CSV row, made from its typed columns: a Y-Net clip's target by its
    number of singers (ONE, TWO), a visual Y-Net scored with the other singer's frames as a model of its own."""
    singers = row.get("singers") or ""
    target = {1: ONE, 2: TWO}[int(float(singers))] if singers else row["target"]
    return target, row["model"] + (OTHER if row.get("frames") == "other" else "")


def medians(summary_csv: Path, metric: str = "sdr", protocol: str = "paper") -> dict[tuple[str, str], float]:
    """{claim key: median} of one protocol's ``metric``, over every split of a target (summary.csv's rows of
    split "all" where its tracks come from several)."""
    out: dict[tuple[str, str], float] = {}
    with open(summary_csv) as f:
        for r in csv.DictReader(f):
            if r["metric"] == metric and r["protocol"] == protocol:
                if r["split"] == "all":
                    out[claim_key(r)] = float(r["median"])
                else:
                    out.setdefault(claim_key(r), float(r["median"]))
    return out


def track_scores(per_track_csv: Path, metric: str = "sdr", protocol: str = "paper", split: str | None = None) -> dict:
    """{(target, model): {track: score}} of one protocol's rows (files from before protocols: all paper), of
    one ``split`` when given (per_track.csv's column, "test" where a file predates it; a Y-Net's test rows are
    "test_seen" and "test_unseen")."""
    out: dict = {}
    with open(per_track_csv) as f:
        for r in csv.DictReader(f):
            if split is not None and (r.get("split") or "test") != split:
                continue
            if r["metric"] == metric and r.get("protocol", "paper") == protocol:
                value = float(r["value"]) if r["value"] else math.nan
                out.setdefault(claim_key(r), {})[r["track"]] = value
    return out


def ablations(sdr: dict[tuple[str, str], float], models: list[str]) -> list[str]:
    """Per target, what undoing one of cunet's departures from the original costs (median v3 SDR)."""
    lines = []
    for name in models:
        ablation = name.removeprefix(f"{ABLATED}-")
        if ablation in ABLATIONS and ABLATED in models:
            diffs = ", ".join(f"{t} {sdr[t, name] - sdr[t, ABLATED]:+.2f}" for t in TARGETS)
            lines.append(f"- `{name}` ({' '.join(ABLATIONS[ablation])}) against `{ABLATED}`: {diffs} dB")
    return lines


def report(
    budget_name: str,
    budget: Budget,
    data: str,
    timing: dict,
    seen: dict,
    found: list[dict],
    tables: str,
    ablated: list[str] = (),
) -> str:
    lines = [
        f"# `python bench/quality.py --budget {budget_name}`",
        "",
        f"Stores: {data}. Preset `{budget.preset}`: {budget.note}."
        + (f" Scored on the first {budget.max_tracks} test tracks or clips only." if budget.max_tracks else ""),
        "",
        f"Music models: `{' '.join(budget.music)}`; Y-Nets: `{' '.join(budget.ynet)}`.",
        "",
        "| stage | examples seen | wall time (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {seen.get(k, '')} | {v:.0f} |" for k, v in timing.items()]
    lines += [
        "",
        f"Total: {sum(timing.values()) / 60:.1f} min.",
        "",
        "## Claims",
        "",
        "Protocol `paper`: median BSS Eval v3 SDR at the models' rate, mono; `sisec`: BSS Eval v4 at full band, "
        "44.1 kHz stereo. A comparison of two models measures the median of their per-track differences. Its "
        "interval is distribution-free: the pair of order statistics of the differences that covers the true "
        "median with probability at least 95 % whatever their distribution (binomial; its exact coverage in "
        "brackets); with fewer than 6 tracks no pair reaches 95 %, the table says so and the claim does not "
        "hold. p is the exact two-sided sign test of a zero median difference (the test this interval is the "
        "dual of; with few tracks the smallest p it can reach is shown). A comparison holds only when the whole "
        "interval clears what is needed; where a C-U-Net row does not hold it shows the target that fails "
        "(the lowest lower bound). The best C-U-Net variant and the best vocals model are chosen on the "
        "validation songs (paper protocol), not on the test songs the claims are measured on; each row says "
        "on what.",
        "",
        "| claim | protocol | measured | interval (coverage) | p | needed | holds |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in found:
        unit = "" if "IRM1" in c["claim"] else " dB"
        fmt = (lambda v: f"{v:.0%}") if not unit else (lambda v, unit=unit: f"{v:+.2f}{unit}")
        lines.append(
            f"| {c['claim']} | {c.get('protocol', 'paper')} | {fmt(c['measured'])} | {interval_cell(c)} | "
            f"{p_cell(c)} | ≥ {fmt(c['threshold'])} | {'yes' if c['holds'] else '**no**'} |"
        )
    details = [f"- {c['claim']}: {c['detail']}" for c in found if c["detail"]]
    lines += ["", *details]
    if ablated:
        lines += ["", "## Ablations (median BSS Eval v3 SDR, the ablated model less cunet's)", "", *ablated]
    lines += ["", "## Scores", "", tables]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    p.add_argument("--models", nargs="+", help="a subset of the budget's models (default: all)")
    p.add_argument("--seed", type=int, default=0, help="data, split, training and test mixtures")
    p.add_argument("--work", help="data, stores and runs (default: quality_work/<budget>-seed<seed>)")
    p.add_argument("--out", help="the report folder (default: bench/results/quality_<budget>)")
    p.add_argument("--music-store", help="a preprocessed music store (e.g. MUSDB18-HQ) instead of the embedded one")
    p.add_argument("--singing-store", help="a preprocessed Acappella store instead of the embedded one")
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    models = args.models or all_models(budget)
    for name in models:
        train_flags(name, budget)
    work = Path(args.work or f"quality_work/{args.budget}-seed{args.seed}")
    out = Path(args.out or f"bench/results/quality_{args.budget}")
    (work / "logs").mkdir(parents=True, exist_ok=True)
    stores = {
        "music": args.music_store or work / "stores/musdb",
        "singing": args.singing_store or work / "stores/acappella",
    }
    # A stage an earlier invocation finished is only checked again: its time is the one recorded then.
    recorded = json.loads((work / TIMING_FILE).read_text()) if (work / TIMING_FILE).is_file() else {}
    timing, seen = {}, {}

    def timed(name: str, cmd: list[str], log: Path, finished: bool) -> None:
        took = run(cmd, log)
        timing[name] = recorded[name] if finished and name in recorded else took
        recorded[name] = timing[name]
        (work / TIMING_FILE).write_text(json.dumps(recorded, indent=1))

    if not (args.music_store and args.singing_store):  # the embedded dataset, at the budget's size
        timed(
            "preprocess",
            [
                "-m",
                "cunet.preprocess",
                "--root",
                str(work / "data"),
                "--out",
                str(work / "stores"),
                "--size",
                budget.size,
                "--seed",
                str(args.seed),
                "--quiet",
            ],
            work / "logs/preprocess.log",
            (work / "stores").is_dir(),
        )
    for name in models:
        flags = train_flags(name, budget)
        music = flags[1] != "ynet"
        store = stores["music" if music else "singing"]
        cmd = [
            "-m",
            "cunet.train",
            *flags,
            "--preset",
            budget.preset,
            "--store",
            str(store),
            "--run-dir",
            str(work / "runs" / name),
            "--seed",
            str(args.seed),
            "--quiet",
        ]
        timed(name, cmd, work / "logs" / f"{name}.log", (work / "runs" / name / "model.keras").is_file())
        seen[name] = examples_seen(work / "runs" / name)
        print(f"{name}: {seen[name]} examples in {timing[name]:.0f} s", flush=True)
    results = work / "results"
    if results.exists():
        shutil.rmtree(results)
    limit = ["--max-tracks", str(budget.max_tracks)] if budget.max_tracks else []
    timing["results"] = run(
        [
            "-m",
            "cunet.evaluation.results",
            "--runs",
            *[str(work / "runs" / m) for m in models],
            "--out",
            str(results),
            "--seed",
            str(args.seed),
            "--report-tracks",
            "1",
            "--quiet",
            *limit,
        ],
        work / "logs/results.log",
    )
    # The songs held out of training choose the best variant, so the test songs only test the claim about it
    music = [m for m in models if model_flags(m)[1] != "ynet"]
    valid = None
    if music:
        valid_dir = work / "results_valid"
        if valid_dir.exists():
            shutil.rmtree(valid_dir)
        timing["results (validation songs)"] = run(
            [
                "-m",
                "cunet.evaluation.results",
                "--runs",
                *[str(work / "runs" / m) for m in music],
                "--out",
                str(valid_dir),
                "--split",
                "valid",
                "--protocol",
                "paper",
                "--no-v4",
                "--seed",
                str(args.seed),
                "--report-tracks",
                "0",
                "--quiet",
                *limit,
            ],
            work / "logs/results_valid.log",
        )
        valid = track_scores(valid_dir / "per_track.csv", split="valid")
    sdr = medians(results / "summary.csv")
    found = claims(sdr, models, track_scores(results / "per_track.csv"), valid=valid)
    sisec = medians(results / "summary.csv", "sdr_v4", "sisec")
    if sisec:
        found += claims(sisec, models, track_scores(results / "per_track.csv", "sdr_v4", "sisec"), "sisec", valid)
    data = (
        f"the embedded dataset, size `{budget.size}`, seed {args.seed}"
        if not (args.music_store or args.singing_store)
        else f"`{stores['music']}`, `{stores['singing']}`"
    )
    text = report(
        args.budget, budget, data, timing, seen, found, (results / "summary.md").read_text(), ablations(sdr, models)
    )
    from cunet.fileio import atomic_dir

    with atomic_dir(out) as tmp:
        for name in ("summary.csv", "summary.md", "per_track.csv", "sdr_boxplot.png", "report.html"):
            shutil.copy(results / name, tmp / name)
        shutil.copytree(results / "listen", tmp / "listen")  # the listening report's audio and spectrograms
        (tmp / "claims.json").write_text(json.dumps(found, indent=1))
        (tmp / "report.md").write_text(text)
    print(text)
    print(f"written: {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
