"""Many sources: one C-U-Net for every source of the embedded six-source set against one dedicated U-Net per
source, at the same examples per source, scored with both protocols; and what each costs.

    python bench/many_sources.py --budget small     # 2 CPU cores, about 35 minutes
    python bench/many_sources.py --budget medium    # twice the examples, about an hour
    python bench/many_sources.py --budget toy       # a smoke test of the pipeline: numbers mean nothing

The six-source songs (vocals, drums, bass, guitar, piano, other; some without a guitar or a piano) are written
in the MoisesDB layout and preprocessed with ``--dataset moisesdb`` and no other flag: the sources, their order
and the test songs (a seeded fifth) come from the data. Each U-Net sees the budget's examples of its source;
the C-U-Net the same number per source (as many steps per epoch times the number of sources, the same epochs).
Stages are the package's commands, run as subprocesses; the work folder keeps data, store and runs, so an
interrupted benchmark resumes.

Measured: per source the median per-track difference C-U-Net less U-Net (paper and SiSEC protocols) with its
distribution-free interval (cunet/evaluation/stats.py); the C-U-Net's gain over the mixture; both again with
one iteration of the multichannel Wiener filter after the masks (``--wiener 1``, paper protocol), as
Open-Unmix separates by default, the six U-Nets then separating together as Open-Unmix's per-target models
do (``--together``), so that one filter weighs their six estimates against one another as the C-U-Net's
does; how quiet each
model is when asked for a source the song lacks (the estimate's energy over the mixture's, dB); parameters,
training time, and the separation time of a 3-minute 44.1 kHz stereo song into every stem (the C-U-Net's
conditioned passes against the U-Nets one after another, bench/separate.py's fresh processes).
``--out`` receives (all or nothing) ``report.md`` (also printed), ``claims.json``, ``summary.csv``,
``summary.md``, ``per_track.csv``, ``per_track_wiener.csv`` (the Wiener pass) and ``sdr_boxplot.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # quality.py and separate.py beside it
from quality import examples_seen, run, track_scores  # noqa: E402
from quality_claims import MATCH_DB, paired  # noqa: E402

CUNET = "cunet-complex-cnn"  # the variant the quality benchmark's validation songs chose
CUNET_FLAGS = ("--model", "cunet", "--film", "complex", "--control", "cnn")
OVER_MIXTURE_DB = 3.0  # the bar: the separated guitar and piano beat the mixture by this much
NEW_SOURCES = ("guitar", "piano")  # the sources MUSDB18's four stems lack


@dataclasses.dataclass(frozen=True)
class Budget:
    size: str  # the embedded dataset's size
    epochs: int
    steps: int  # a U-Net's steps per epoch; the C-U-Net's are this times the number of sources
    batch_size: int
    more: tuple[str, ...]  # further train flags of every run
    note: str

    def flags(self, sources: int = 1) -> list[str]:
        return [
            "--epochs",
            str(self.epochs),
            "--steps",
            str(self.steps * sources),
            "--batch-size",
            str(self.batch_size),
            *self.more,
        ]


BUDGETS = {
    "toy": Budget("tiny", 1, 2, 2, ("--set", "model.first_filters=4"), "a smoke test: numbers mean nothing"),
    # the quality benchmark's music budget (half-width U-Nets, 448 steps of 8) for every U-Net
    "small": Budget("bench", 28, 16, 8, ("--set", "model.first_filters=8"), "2 CPU cores"),
    # twice the examples: the gains over the mixture were still growing with them
    "medium": Budget("bench", 28, 32, 8, ("--set", "model.first_filters=8"), "2 CPU cores, twice small's examples"),
}


def store_sources(store: Path) -> list[str]:
    return list(json.loads((store / "manifest.json").read_text())["sources"])


def absent_levels(store: Path, runs: dict[str, Path]) -> dict[tuple[str, str], list[float]]:
    """{(source, model): [dB]} over the test songs lacking the source: what the model gives when asked for it,
    its energy over the mixture's (float32, as scores are computed)."""
    from cunet.evaluation.examples import music_examples
    from cunet.separation.load import load_separator
    from cunet.separation.streaming import SeparateConfig
    from cunet.store import Store

    separators = {name: load_separator(path, SeparateConfig(precision="float32")) for name, path in runs.items()}
    levels: dict[tuple[str, str], list[float]] = {}
    done: dict[tuple[str, str], dict] = {}
    for ex in music_examples(Store(store)):
        if not ex.absent:
            continue
        for name, separator in separators.items():
            if ex.target not in separator.targets:
                continue
            if (name, ex.track) not in done:
                done[name, ex.track] = separator.separate(ex.mixture, ex.rate)
            est = done[name, ex.track][ex.target]
            level = 10 * math.log10(
                max(float(np.sum(est.astype(np.float64) ** 2)), 1e-30)
                / float(np.sum(ex.mixture.astype(np.float64) ** 2))
            )
            levels.setdefault((ex.target, name), []).append(level)
    return levels


def parameters(folder: Path) -> int:
    from cunet.models.run import load_run

    return int(load_run(folder).model.count_params())


def separation_times(cunet: Path, unets: list[Path]) -> dict[str, dict]:
    """Every stem of a 3-minute 44.1 kHz stereo song, at the CPU's default precision: the C-U-Net against
    the U-Nets one after another, and together as one separator (each the fastest of 3 fresh processes)."""
    from separate import make_song, measure

    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song3.wav"
        make_song(song, 3.0)

        def out() -> str:
            return tempfile.mkdtemp(prefix="cunet-bench-out-")

        return {
            "cunet": measure("cunet", str(cunet), str(song), out(), "auto", repeats=3),
            "unets": measure("cunet", os.pathsep.join(map(str, unets)), str(song), out(), "auto", repeats=3),
            "together": measure("together", os.pathsep.join(map(str, unets)), str(song), out(), "auto", repeats=3),
        }


WIENER = "paper, Wiener 1"  # the paper protocol's scores of every model separating with one Wiener iteration
TOGETHER = "unets-together"  # the six U-Nets as one separator in that pass


def claims(tracks: dict, sisec: dict, wiener: dict, sources: list[str], unet) -> list[dict]:
    """Per source, C-U-Net against its U-Net (each protocol, and the paper's with the Wiener filter) and, for
    the new sources, against the mixture (with and without the filter)."""
    out = []

    def add(claim, protocol, d, threshold, **more):
        holds = bool(d is not None and d.has_interval and d.low >= threshold)
        out.append(
            {
                "claim": claim,
                "protocol": protocol,
                "threshold": threshold,
                "holds": holds,
                "measured": None if d is None else d.median,
                "n": None if d is None else d.n,
                "interval": [d.low, d.high] if d is not None and d.has_interval else None,
                "interval_text": "–" if d is None else d.interval_text(),
                "p_text": "–" if d is None else d.p_text(),
                **more,
            }
        )

    for protocol, scores in (("paper", tracks), ("sisec", sisec), (WIENER, wiener)):
        for s in sources:
            add(
                f"{s}: the C-U-Net matches the dedicated U-Net",
                protocol,
                paired(scores, s, CUNET, TOGETHER if protocol == WIENER else unet(s)),
                MATCH_DB,
                source=s,
                kind="match",
            )
    for protocol, scores in (("paper", tracks), (WIENER, wiener)):
        for s in NEW_SOURCES:
            if s in sources:
                add(
                    f"{s}: the C-U-Net beats the mixture",
                    protocol,
                    paired(scores, s, CUNET, "mixture"),
                    OVER_MIXTURE_DB,
                    source=s,
                    kind="over mixture",
                )
    return out


def report(
    args,
    budget: Budget,
    sources: list[str],
    timing: dict,
    seen: dict,
    found: list[dict],
    medians: dict,
    quiet: dict,
    params: dict,
    speed: dict | None,
    tables: str,
) -> str:
    unets = [f"unet-{s}" for s in sources]
    lines = [
        f"# `python bench/many_sources.py --budget {args.budget}`",
        "",
        f"The embedded six-source set (MoisesDB layout), size `{budget.size}`, seed {args.seed}; {budget.note}. "
        f"Sources from the store: {', '.join(sources)}. Each U-Net: `{' '.join(budget.flags())}`; the "
        f"C-U-Net ({CUNET}): `{' '.join(budget.flags(len(sources)))}`, the same examples per source.",
        "",
        "## Claims",
        "",
        "A comparison is the median of per-track differences with its order-statistic interval (exact "
        "binomial coverage in brackets) and the exact sign test's p; it holds when the whole interval clears "
        "what is needed. A track without the source is not scored (absent column). The rows "
        f"*{WIENER}* score both separating with one iteration of the multichannel Wiener filter after the "
        "masks (`--wiener 1`, Open-Unmix's default), the U-Nets together as one separator (`--together`, as "
        "Open-Unmix's per-target models): one filter weighs the six estimates against one another (and, for "
        "the U-Nets, trained apart, against what they leave of the mixture).",
        "",
        "| claim | protocol | median difference | interval (coverage) | p | tracks | needed | holds |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in found:
        value = "–" if c["measured"] is None else f"{c['measured']:+.2f} dB"
        lines.append(
            f"| {c['claim']} | {c['protocol']} | {value} | {c['interval_text']} | {c['p_text']} | "
            f"{c['n'] or '–'} | ≥ {c['threshold']:+.2f} dB | {'yes' if c['holds'] else '**no**'} |"
        )
    match = [c for c in found if c["kind"] == "match"]
    for protocol in ("paper", "sisec", WIENER):
        failing = [c["source"] for c in match if c["protocol"] == protocol and not c["holds"]]
        lines.append(
            f"\nOne C-U-Net matches the {len(sources)} U-Nets on every source ({protocol} protocol): "
            + ("**no**, not on " + ", ".join(failing) if failing else "yes")
            + "."
        )
    for protocol in ("paper", WIENER):
        over = [c for c in found if c["kind"] == "over mixture" and c["protocol"] == protocol]
        if not over or any(c["measured"] is None for c in over):
            continue
        names = " and ".join(c["source"] for c in over)
        median_ok = all(c["measured"] >= OVER_MIXTURE_DB for c in over)
        lows = ", ".join(f"{c['source']} {c['interval'][0]:+.2f}" for c in over if c["interval"])
        lines.append(
            f"\n{names.capitalize()} over the mixture by ≥ {OVER_MIXTURE_DB:.0f} dB ({protocol}): in median "
            f"**{'yes' if median_ok else 'no'}** ("
            + ", ".join(f"{c['source']} {c['measured']:+.2f} dB" for c in over)
            + f"); with the whole interval **{'yes' if all(c['holds'] for c in over) else 'no'}** (its lower ends: "
            f"{lows or 'none'})."
        )
    lines += [
        "",
        "## Medians (paper protocol, BSS Eval v3 SDR, dB) and silence where a source is absent",
        "",
        "Silence: the estimate's energy over the mixture's for the test songs without the source (median, dB; "
        "lower is quieter).",
        "",
        "| source | tracks | absent in | mixture | IRM1 | C-U-Net | U-Net | C-U-Net, Wiener 1 | U-Nets together, "
        "Wiener 1 | U-Net alone, Wiener 1 | C-U-Net silence | U-Net silence |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(v, fmt="{:.2f}"):
        return "–" if v is None or not math.isfinite(v) else fmt.format(v)

    for s in sources:
        n, absent = medians.get(("tracks", s), (0, 0))
        q = {m: (float(np.median(quiet[s, m])) if quiet.get((s, m)) else None) for m in (CUNET, f"unet-{s}")}
        lines.append(
            f"| {s} | {n} | {absent} | "
            + " | ".join(cell(medians.get((s, m))) for m in ("mixture", "IRM1", CUNET, f"unet-{s}"))
            + " | "
            + " | ".join(cell(medians.get((s, m, WIENER))) for m in (CUNET, TOGETHER, f"unet-{s}"))
            + f" | {cell(q[CUNET], '{:+.1f}')} | {cell(q[f'unet-{s}'], '{:+.1f}')} |"
        )
    lines += [
        "",
        "## Cost",
        "",
        "| | parameters | training examples | training time | separation of a 3-min song, every stem |",
        "|---|---:|---:|---:|---:|",
    ]
    train_unets = sum(timing[u] for u in unets)
    sep = (
        (lambda k: f"{speed[k]['separate']:.1f} s ({speed[k]['precision']}, peak {speed[k]['peak'] / 2**30:.2f} GiB)")
        if speed
        else (lambda k: "not measured")
    )
    lines.append(f"| one C-U-Net | {params[CUNET]:,} | {seen[CUNET]:,} | {timing[CUNET]:.0f} s | {sep('cunet')} |")
    lines.append(
        f"| {len(sources)} U-Nets, one after another | {sum(params[u] for u in unets):,} | "
        f"{sum(seen[u] for u in unets):,} | {train_unets:.0f} s | {sep('unets')} |"
    )
    if speed and "together" in speed:
        lines.append(f"| {len(sources)} U-Nets together (`--together`) | | | | {sep('together')} |")
    if speed:
        lines.append(
            f"\nSeparation on {speed['cpu']}: the C-U-Net takes "
            f"{speed['cunet']['separate'] / speed['unets']['separate']:.2f}x the U-Nets' time one after another "
            "(its conditioned passes share one STFT, one read and one model load)"
            + (
                f", {speed['cunet']['separate'] / speed['together']['separate']:.2f}x their time together."
                if "together" in speed
                else "."
            )
        )
    lines += [
        "",
        "Stage wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timing.items()),
        "",
        "## Scores",
        "",
        tables,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", help="data, store and runs (default: quality_work/six-<budget>-seed<seed>)")
    p.add_argument("--out", help="the report folder (default: bench/results/many_sources_<budget>)")
    p.add_argument("--no-speed", action="store_true", help="leave out the separation times")
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    work = Path(args.work or f"quality_work/six-{args.budget}-seed{args.seed}")
    out = Path(args.out or f"bench/results/many_sources_{args.budget}")
    (work / "logs").mkdir(parents=True, exist_ok=True)
    timing_file = work / "timing.json"
    recorded = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    timing, seen = {}, {}

    def stage(name: str, cmd: list[str], finished: Path, inputs=(), folder: Path | None = None) -> None:
        """Run a stage unless ``finished`` exists and is newer than every file of ``inputs`` (the stage's
        ``folder``, if any, is cleared before it runs again); its time is the one recorded when it really ran."""
        newest = max((p.stat().st_mtime for p in inputs), default=0.0)
        if not (finished.exists() and name in recorded and finished.stat().st_mtime > newest):
            if folder is not None and folder.exists():
                shutil.rmtree(folder)
            recorded[name] = run(cmd, work / "logs" / f"{name}.log")
            timing_file.write_text(json.dumps(recorded, indent=1))
        timing[name] = recorded[name]

    data, store = work / "data", work / "store"
    stage(
        "generate",
        [
            "-m",
            "cunet.datasets.synthetic",
            "--out",
            str(data),
            "--size",
            budget.size,
            "--sources",
            "6",
            "--seed",
            str(args.seed),
            "--jobs",
            "2",
        ],
        data / "synthetic.json",
    )
    stage(
        "preprocess",
        [
            "-m",
            "cunet.preprocess",
            "--dataset",
            "moisesdb",
            "--root",
            str(data / "moisesdb"),
            "--out",
            str(store),
            "--seed",
            str(args.seed),
            "--quiet",
        ],
        store / "manifest.json",
    )
    sources = store_sources(store)
    runs = {f"unet-{s}": ["--model", "unet", "--target", s, *budget.flags()] for s in sources}
    runs[CUNET] = [*CUNET_FLAGS, *budget.flags(len(sources))]
    for name, flags in runs.items():
        folder = work / "runs" / name
        stage(
            name,
            [
                "-m",
                "cunet.train",
                *flags,
                "--preset",
                "small",
                "--store",
                str(store),
                "--run-dir",
                str(folder),
                "--seed",
                str(args.seed),
                "--quiet",
            ],
            folder / "model.keras",
        )
        seen[name] = examples_seen(folder)
        print(f"{name}: {seen[name]} examples in {timing[name]:.0f} s", flush=True)
    models = [work / "runs" / m / "model.keras" for m in runs]  # scores are redone when a model was retrained
    results = work / "results"
    filtered = work / "results-wiener"  # the paper protocol again, with one Wiener iteration
    together = f"{TOGETHER}=" + os.pathsep.join(str(work / "runs" / f"unet-{s}") for s in sources)
    runs_given = [str(work / "runs" / m) for m in runs]
    common = ["--seed", str(args.seed), "--report-tracks", "0", "--quiet"]
    for name, folder, flags in (
        ("results", results, ["--protocol", "both"]),
        ("results-wiener", filtered, ["--together", together, "--protocol", "paper", "--no-v4", "--wiener", "1"]),
    ):
        cmd = ["-m", "cunet.evaluation.results", "--runs", *runs_given, "--out", str(folder), *flags, *common]
        stage(name, cmd, folder / "summary.csv", models, folder)
    import pandas as pd

    medians: dict = {}
    for folder, more in ((results, ()), (filtered, (WIENER,))):
        summary = pd.read_csv(folder / "summary.csv")
        for row in summary[summary["metric"] == "sdr"].itertuples():
            medians[(row.target, row.model, *more)] = float(row.median)
    rows = pd.read_csv(results / "per_track.csv")
    paper = rows[rows["protocol"] == "paper"]
    for s in sources:  # counted from the rows: a source absent from every test song has no summary row
        mine = paper[paper["target"] == s]
        absent = mine.loc[mine["metric"] == "absent", "track"].nunique()
        medians["tracks", s] = (mine["track"].nunique() - absent, absent)
    tracks = track_scores(results / "per_track.csv")
    sisec = {(t, m): v for (t, m), v in track_scores(results / "per_track.csv", "sdr_v4", "sisec").items()}
    wiener = track_scores(filtered / "per_track.csv")
    found = claims(tracks, sisec, wiener, sources, lambda s: f"unet-{s}")
    folders = {name: work / "runs" / name for name in runs}
    quiet = absent_levels(store, folders)
    params = {name: parameters(f) for name, f in folders.items()}
    speed = None
    if not args.no_speed:
        from separate import cpu_name

        speed = separation_times(folders[CUNET], [folders[f"unet-{s}"] for s in sources]) | {"cpu": cpu_name()}
    text = report(
        args, budget, sources, timing, seen, found, medians, quiet, params, speed, (results / "summary.md").read_text()
    )
    from cunet.fileio import atomic_dir

    with atomic_dir(out) as tmp:
        for name in ("summary.csv", "summary.md", "per_track.csv", "sdr_boxplot.png"):
            shutil.copy(results / name, tmp / name)
        shutil.copy(filtered / "per_track.csv", tmp / "per_track_wiener.csv")
        record = {
            "claims": found,
            "parameters": params,
            "training_seconds": timing,
            "examples": seen,
            "silence_db": {f"{s} / {m}": v for (s, m), v in quiet.items()},
            "separation": speed,
        }
        (tmp / "claims.json").write_text(json.dumps(record, indent=1))
        (tmp / "report.md").write_text(text)
    print(text)
    print(f"written: {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
