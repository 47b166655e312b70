"""Score trained models on the test split: per-track scores, summary tables with oracle rows, plots.

    python -m cunet.evaluation.results                      # every finished run under runs/
    python -m cunet.evaluation.results --runs runs/cunet-simple-dense runs/unet-vocals --out results

Music models (unet, cunet) separate every test track of their store (the whole track, mono at 8192 Hz,
as the C-U-Net paper scores); the references are the stems, the accompaniment the sum of the other stems.
Y-Nets separate 4-second test clips mixed as in training (each voice and the accompaniment at unit RMS,
the voice ``loudness`` times the accompaniment), with one singer and with a second singer, and are scored
again with the *other* singer's frames, which shows whether the visual branch is used at all.

Scores per estimate: BSS Eval v3 on the whole track (SDR, SIR, SAR; the papers' metric, with the target
and the rest as references), BSS Eval v4 (museval's median over 1-s windows) and SI-SDR. Every target is
scored with the oracle rows on the same tracks: the mixture itself, IRM1 and IRM2 (see oracle.py).

Written to ``--out`` (default ``results/``), all or nothing: ``per_track.csv`` (track, target, model,
metric, value), ``summary.csv`` (median, mean and count per target, model and metric), ``summary.md`` (also
printed), ``sdr_boxplot.png``, one ``spectrogram_<model>.png`` per model, and ``results_config.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .. import audio
from .. import config as config_io
from ..datasets.acappella import CLIP_FRAMES, CLIP_SAMPLES, SAMPLES_PER_FRAME
from ..datasets.musdb import SOURCES
from ..datasets.store import Store
from ..errors import InputError
from ..fileio import atomic_dir
from ..models.run import load_run
from .metrics import SilentSignalWarning, bss_eval_v3, bss_eval_v4, si_sdr, track_score
from .oracle import ORACLES, oracle_estimates
from .runs import latest_runs, train_config

METRICS = ("sdr", "sir", "sar", "sdr_v4", "isr_v4", "sir_v4", "sar_v4", "si_sdr")
ONE_SINGER, TWO_SINGERS = "voice (1 singer)", "voice (2 singers)"


@dataclasses.dataclass(frozen=True)
class ResultsConfig:
    runs: tuple[str, ...] = ()  # run folders; default: every finished run under runs_root
    runs_root: str = "runs"
    store: str | None = None  # replaces the training store of the runs of its kind
    out: str = "results"
    wiener: int = 0  # Wiener iterations after the magnitude models' masks
    batch_size: int = 16
    seed: int = 0  # picks the accompaniment and the second singer of each Y-Net test clip
    loudness: float = 1.0  # Y-Net test clips: target voice RMS over accompaniment RMS
    v4: bool = True  # BSS Eval v4 as well (the slower of the two)
    max_tracks: int = 0  # score only the first N test tracks or clips (0: all)


@dataclasses.dataclass
class Example:
    """One scored mixture: its sources (the target first) and, for Y-Nets, the visual inputs."""

    track: str
    target: str
    rate: int
    sources: np.ndarray  # (sources, samples) waveforms; the target is row 0
    mixture: np.ndarray
    oracles: dict[str, np.ndarray]  # oracle name -> the target's estimate
    visual: dict[str, np.ndarray] | None = None  # kind -> the target singer's frames / landmarks
    other_visual: dict[str, np.ndarray] | None = None  # the same of another singer


def score(example: Example, estimate: np.ndarray, v4: bool, mixture_row: bool = False) -> dict[str, float]:
    """The target's scores; the estimate of the rest is the mixture less the target's estimate (for the
    mixture row, the mixture again: it is every source's estimate)."""
    ref = np.stack([example.sources[0], example.mixture - example.sources[0]])
    est = np.stack([estimate, example.mixture if mixture_row else example.mixture - estimate])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentSignalWarning)  # silent stems score NaN; counts show them
        v3 = bss_eval_v3(ref, est)
        out = {k: float(v3[k][0]) for k in ("sdr", "sir", "sar")}
        if v4:
            frames = bss_eval_v4(ref[..., None], est[..., None], rate=example.rate)
            out.update({f"{k}_v4": float(track_score(frames[k])[0]) for k in ("sdr", "isr", "sir", "sar")})
        out["si_sdr"] = si_sdr(ref[0], estimate)
    return out


# -- test examples ------------------------------------------------------------------------------------------
def music_examples(store: Store, max_tracks: int = 0):
    """Every test track of a music store, once per target (the stems' STFTs made waveforms at 8192 Hz)."""
    tracks = [i for i, t in enumerate(store.tracks) if t["split"] == "test"]
    if not tracks:
        raise InputError(store.path, "holds no test track")
    for i in tracks[: max_tracks or None]:
        n = store.tracks[i]["n_samples"]
        specs = np.stack([np.asarray(store.array(i, s)) for s in SOURCES])
        mix_spec = np.asarray(store.array(i, "mixture"))
        stems = audio.istft(specs, audio.CUNET_STFT, length=n)
        mixture = audio.istft(mix_spec, audio.CUNET_STFT, length=n)
        oracles = oracle_estimates(specs, mix_spec, audio.CUNET_STFT, n)
        for j, target in enumerate(SOURCES):
            order = [j] + [k for k in range(len(SOURCES)) if k != j]
            yield Example(store.tracks[i]["name"], target, audio.CUNET_STFT.sample_rate, stems[order], mixture,
                          {name: est[j] for name, est in oracles.items()})


def singing_clips(store: Store) -> list[tuple[int, int]]:
    """(track, first frame) of every whole 4-s clip of the test tracks, clips not overlapping."""
    clips = []
    for i, t in enumerate(store.tracks):
        if t["split"].startswith("test"):
            for frame in range(0, t["n_frames"] - CLIP_FRAMES + 1, CLIP_FRAMES):
                if int(round(frame * SAMPLES_PER_FRAME)) + CLIP_SAMPLES <= t["n_samples"]:
                    clips.append((i, frame))
    if len({i for i, _ in clips}) < 2:
        raise InputError(store.path, "needs 4-second test clips of at least two singers")
    return clips


def singing_examples(store: Store, cfg: ResultsConfig):
    """Each test clip mixed with a test accompaniment, alone and with a second singer from another clip."""
    from ..train.data_loader import clip_at, singing_levels

    clips = singing_clips(store)

    def voice(track, frame):
        return clip_at(store.array(track, "voice"), int(round(frame * SAMPLES_PER_FRAME)))

    def visual(track, frame):
        return {kind: np.asarray(store.array(track, name)[frame: frame + CLIP_FRAMES])
                for kind, name in (("video", "frames"), ("landmarks", "landmarks"))}

    for c, (track, frame) in enumerate(clips[: cfg.max_tracks or None]):
        rng = np.random.default_rng([cfg.seed, c])
        feeds = store.manifest["accompaniment_for_split"][store.tracks[track]["split"]]
        accs = [a for a in store.manifest["accompaniment"] if a["split"] == feeds]
        clip = accs[rng.integers(len(accs))]
        offset = int(rng.integers(max(1, clip["n_samples"] - CLIP_SAMPLES)))
        acc = clip_at(store.array(0, "audio", clip["folder"]), offset)
        others = [k for k, (t, _) in enumerate(clips) if t != track]
        other_track, other_frame = clips[others[rng.integers(len(others))]]
        for target, second in ((ONE_SINGER, None), (TWO_SINGERS, voice(other_track, other_frame))):
            parts = [p for p in singing_levels(voice(track, frame), acc, cfg.loudness, second) if p is not None]
            sources = np.stack(parts)
            mixture = sources.sum(0)
            specs = audio.stft(sources, audio.YNET_STFT)
            oracles = oracle_estimates(specs, specs.sum(0), audio.YNET_STFT, CLIP_SAMPLES)
            yield Example(f"{store.tracks[track]['name']}@{frame}", target, audio.YNET_STFT.sample_rate, sources,
                          mixture, {name: est[0] for name, est in oracles.items()}, visual(track, frame),
                          visual(other_track, other_frame))


# -- models on examples -------------------------------------------------------------------------------------
def _estimates(separator, example: Example, track_cache: dict) -> dict[str, np.ndarray]:
    """{model row name: the target's estimate} for one separator on one example. A music track comes once
    per target with the same mixture: each separator separates it once (``track_cache``)."""
    if example.visual is None:
        if example.target not in separator.targets:
            return {}
        if (id(separator), example.track) not in track_cache:
            track_cache[id(separator), example.track] = separator.separate(example.mixture, example.rate)
        return {"": track_cache[id(separator), example.track][example.target]}
    kind = separator.visual
    own = example.visual.get(kind) if kind != "none" else None
    out = {"": separator.separate(example.mixture, example.rate, visual=own)["vocals"]}
    if kind != "none":  # the proof the visual branch is used: the other singer's frames
        out[" (other singer)"] = separator.separate(example.mixture, example.rate,
                                                    visual=example.other_visual[kind])["vocals"]
    return out


def evaluate(cfg: ResultsConfig, progress: bool = True):
    """Score every run and the oracles; returns (rows, panels): long-format score rows, and for each model
    one example's (mixture, estimate, reference, rate, title) for the spectrogram panels."""
    from tqdm import tqdm

    from ..separation.load import load_separator
    from ..separation.streaming import SeparateConfig

    paths = [Path(p) for p in cfg.runs] or latest_runs(cfg.runs_root)
    # float32 whatever the CPU: scores must not depend on the machine that computed them
    sep_cfg = SeparateConfig(batch_size=cfg.batch_size, wiener=cfg.wiener, precision="float32")
    runs = [load_run(p) for p in paths]
    separators = [(run.name, load_separator(run, sep_cfg), run_store(run, cfg)) for run in runs]
    rows, panels = [], {}
    stores = sorted({s for _, _, s in separators}, key=str)
    for store_path in stores:
        store = Store(store_path)
        here = [(name, sep) for name, sep, s in separators if s == store_path]
        examples = music_examples(store, cfg.max_tracks) if store.kind == "music" else singing_examples(store, cfg)
        cache = {}
        for ex in tqdm(examples, desc=f"scoring {store_path}", disable=not progress, unit="example"):
            cache = {k: v for k, v in cache.items() if k[1] == ex.track}  # only the current track's
            estimates = {name: est for name, est in ex.oracles.items()}
            for name, sep in here:
                estimates.update({name + suffix: est for suffix, est in _estimates(sep, ex, cache).items()})
            for model, est in estimates.items():
                values = score(ex, est, cfg.v4, mixture_row=model == "mixture")
                rows += [{"track": ex.track, "target": ex.target, "model": model, "metric": m, "value": v}
                         for m, v in values.items()]
                panels.setdefault((ex.target, model), (ex.mixture, est, ex.sources[0], ex.rate,
                                                       f"{model}: {ex.target}, {ex.track}"))
    return rows, panels


def run_store(run, cfg: ResultsConfig) -> Path:
    """The store a run is scored on: ``cfg.store`` when it is of the run's kind, else the run's own."""
    train = train_config(run)
    if cfg.store is not None and Store(cfg.store).kind == train.store_kind:
        return Path(cfg.store)
    return train.store_path


# -- tables -------------------------------------------------------------------------------------------------
def summarise(rows: list[dict]):
    """Long-format rows -> (frame, summary): per target, model and metric the median and mean over the
    tracks that have a finite score (``count``), out of the target's tracks (``tracks``): a model with a NaN
    or a missing track shows it in the count rather than dropping out of the median unnoticed."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["track", "target", "model", "metric", "value"])
    grouped = frame.groupby(["target", "model", "metric"], sort=False)["value"]
    summary = grouped.agg(median="median", mean="mean", count="count").reset_index()
    tracks = frame.groupby("target")["track"].nunique()
    summary["tracks"] = summary["target"].map(tracks).astype(int)
    return frame, summary


def markdown(summary) -> str:
    """One table per target: the oracles first, then the models; medians over each row's tracks (mean SDR
    too), with how many tracks each row's SDR is over and a flag where a track is NaN or missing."""
    columns = [("sdr", "median", "SDR"), ("sdr", "mean", "SDR mean"), ("sir", "median", "SIR"),
               ("sar", "median", "SAR"), ("sdr_v4", "median", "SDR v4"), ("si_sdr", "median", "SI-SDR")]
    columns = [c for c in columns if c[0] in set(summary["metric"])]
    lines = []
    for target in dict.fromkeys(summary["target"]):
        part = summary[summary["target"] == target]
        models = [m for m in ORACLES if m in set(part["model"])]
        models += sorted(set(part["model"]) - set(ORACLES))
        n = int(part["tracks"].max())
        lines += [f"### {target} (dB, medians over the tracks in the last column, of {n}; v3 unless marked)", "",
                  "| model | " + " | ".join(c[2] for c in columns) + " | tracks |",
                  "|---|" + "---:|" * (len(columns) + 1)]
        flagged = []
        for model in models:
            cells = []
            for metric, stat, _ in columns:
                hit = part[(part["model"] == model) & (part["metric"] == metric)][stat]
                cells.append(f"{hit.iloc[0]:.2f}" if len(hit) and np.isfinite(hit.iloc[0]) else "–")
            sdr = part[(part["model"] == model) & (part["metric"] == "sdr")]
            counted = int(sdr["count"].iloc[0]) if len(sdr) else 0
            name = model if counted == n else f"{model} ⚠"
            if counted < n:
                flagged.append(f"{model}: {n - counted} of {n} tracks NaN or missing")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {counted} |")
        lines += ["", *(f"⚠ {f}; its medians are over the rest." for f in flagged), ""] if flagged else [""]
    return "\n".join(lines)


def write(cfg: ResultsConfig, rows: list[dict], panels: dict) -> str:
    from .plots import sdr_boxplot, spectrogram_panel

    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()) and not (out / "results_config.json").is_file():
        raise InputError(out, "exists and is not a results folder: choose another --out (nothing was written)")
    frame, summary = summarise(rows)
    table = markdown(summary)
    with atomic_dir(out) as tmp:
        frame.to_csv(tmp / "per_track.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        (tmp / "summary.md").write_text(table)
        sdr_boxplot(frame, tmp / "sdr_boxplot.png")
        for model in dict.fromkeys(m for _, m in panels):
            spectrogram_panel([panels[k] for k in panels if k[1] == model],
                              tmp / f"spectrogram_{re.sub(r'[^A-Za-z0-9.-]+', '_', model).strip('_')}.png")
        config_io.save(cfg, tmp / "results_config.json")
    return table


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m cunet.evaluation.results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", metavar="DIR", help="run folders (default: every finished run in runs/)")
    p.add_argument("--runs-root", help="where to look for runs (default: runs)")
    p.add_argument("--store", help="score on this store instead of the runs' training store (its test split)")
    p.add_argument("--out", help="folder for the tables and plots (default: results)")
    p.add_argument("--wiener", type=int, metavar="N", help="Wiener iterations for unet/cunet (default 0)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--loudness", type=float, help="Y-Net clips: voice RMS over accompaniment RMS (default 1)")
    p.add_argument("--max-tracks", type=int, help="only the first N test tracks or clips")
    p.add_argument("--no-v4", action="store_true", help="skip BSS Eval v4 (faster)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    values = {"runs": tuple(args.runs) if args.runs else None, "runs_root": args.runs_root, "store": args.store,
              "out": args.out, "wiener": args.wiener, "batch_size": args.batch_size, "seed": args.seed,
              "loudness": args.loudness, "max_tracks": args.max_tracks, "v4": False if args.no_v4 else None}
    try:
        cfg = ResultsConfig(**{k: v for k, v in values.items() if v is not None})
        rows, panels = evaluate(cfg, progress=not args.quiet)
        table = write(cfg, rows, panels)
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table)
    print(f"written: {cfg.out}/ (per_track.csv, summary.csv, summary.md, sdr_boxplot.png, spectrogram_*.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
