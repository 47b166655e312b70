"""Score trained models on the test split (or the validation songs): per-track scores, tables with oracle rows, plots.

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

``--split valid`` scores the music tracks held out of training (a singing store's val_seen clips) instead, to
choose among models without looking at the test songs; per_track.csv's ``split`` column says which was scored.

Runs are named by their folder; two folders of one name (seed0/runs/x, seed1/runs/x), or one named as an
oracle row, by the shortest tail of their paths that tells them apart. A store is scored once however its
path is spelled. Where a store's protocol cannot be scored (the SiSEC protocol reads the original audio,
which may have moved: ``--dataset-root``), the rest is written and the missing part named; the exit status
is 2 only when nothing could be scored.

Written to ``--out`` (default ``results/``), all or nothing: ``per_track.csv`` (track, target, model,
metric, value), ``summary.csv`` (median, mean and count per target, model and metric), ``summary.md`` (also
printed), ``sdr_boxplot.png``, one ``spectrogram_<model>.png`` per model, and ``results_config.json``.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import run_command
from ..config import choices
from .config import PROTOCOLS, ResultsConfig, Split
from .output import check_out, write


def build_parser() -> argparse.ArgumentParser:
    """The results command's flags."""
    p = argparse.ArgumentParser(
        prog="python -m cunet.evaluation.results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", nargs="+", metavar="DIR", help="run folders (default: every finished run in runs/)")
    p.add_argument("--runs-root", help="where to look for runs (default: runs)")
    p.add_argument(
        "--together",
        nargs="+",
        metavar="NAME=DIR:DIR",
        help="several U-Nets (or C-U-Nets) scored as one separator, named NAME: each separates its own targets, "
        "and --wiener weighs all their estimates together, as Open-Unmix's per-target models",
    )
    p.add_argument("--store", help="score on this store instead of the runs' training store")
    p.add_argument(
        "--split",
        choices=choices(Split),
        help="test (default), or valid: a music store's tracks held out of training (a singing store's val_seen clips)",
    )
    p.add_argument(
        "--dataset-root",
        metavar="PATH",
        help="where a music store's MUSDB18 folder is now, if it moved since preprocessing "
        "(the sisec protocol reads its original audio)",
    )
    p.add_argument("--out", help="folder for the tables and plots (default: results)")
    p.add_argument("--wiener", type=int, metavar="N", help="Wiener iterations for unet/cunet (default 0)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--loudness", type=float, help="Y-Net clips: voice RMS over accompaniment RMS (default 1)")
    p.add_argument("--max-tracks", type=int, help="only the first N test tracks or clips")
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        help="music scores: paper (BSS Eval v3 on whole tracks at the model's rate, mono, as both papers), "
        "sisec (v4 at full band on the original-rate stereo stems, as museval), both (default)",
    )
    p.add_argument("--report-tracks", type=int, help="tracks (or clips) of each target in report.html (default 2)")
    p.add_argument("--no-v4", action="store_true", help="skip BSS Eval v4 (faster)")
    p.add_argument(
        "--complete-tracks",
        action="store_true",
        help="score only the tracks holding every source of their store, as MoisesDB's own benchmark "
        "(default: a track lacking a source is left out of that source's scores only, and counted)",
    )
    p.add_argument("--quiet", action="store_true")
    return p


def parse_args(argv):
    """The results command's arguments, parsed (argparse exits 2 on a bad one)."""
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Score runs and write the results folder (``python -m cunet.evaluation.results``); returns the exit
    status."""
    args = parse_args(argv)
    values = {
        "runs": tuple(args.runs) if args.runs else None,
        "together": tuple(args.together) if args.together else None,
        "runs_root": args.runs_root,
        "store": args.store,
        "out": args.out,
        "wiener": args.wiener,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "loudness": args.loudness,
        "max_tracks": args.max_tracks,
        "report_tracks": args.report_tracks,
        "protocol": args.protocol,
        "v4": False if args.no_v4 else None,
        "split": args.split,
        "dataset_root": args.dataset_root,
        "complete_tracks": True if args.complete_tracks else None,
    }

    def body():
        cfg = ResultsConfig(**{k: v for k, v in values.items() if v is not None})
        check_out(cfg.out)  # before minutes of scoring
        from .scoring import evaluate  # loads Keras, seconds: a refusal of the arguments comes first

        scores = evaluate(cfg, progress=not args.quiet)
        for line in scores.skipped:  # the rest is written: these are named here and at the top of summary.md
            print(f"warning: not scored: {line}", file=sys.stderr)
        print(write(cfg, scores))
        print(
            f"written: {cfg.out}/ (per_track.csv, summary.csv, summary.md, sdr_boxplot.png, spectrogram_*.png, "
            "report.html, listen/)"
        )

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
