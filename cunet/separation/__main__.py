"""Separate audio files with a trained model: full-band stems at the input's rate, channels and length.

cunet-separate runs/cunet-complex-cnn song.wav album/ 'live/*.mp3' -o separated
cunet-separate runs/cunet-six song.wav --targets guitar piano        (some of the model's targets)
cunet-separate runs/cunet-six song.wav --two-stems vocals            (vocals and no_vocals, the rest)
python -m cunet.separation runs/unet-vocals song.flac --residual --template "{name}/{target}.mp3"
cunet-separate runs/unet-vocals:runs/unet-drums:runs/unet-bass song.wav --wiener 1   (dedicated models together)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import warnings
from pathlib import Path
from typing import Any

from ..cli import run_command
from ..datasets.checks import printable
from ..outputs import check_output_folder
from .bands import EXTENSIONS
from .inputs import find_inputs
from .streaming import PRECISIONS, SeparateConfig
from .writers import CLIP_MODES, ClippingWarning, OutputConfig, separate_files


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``cunet-separate`` (``python -m cunet.separation``)."""
    p = argparse.ArgumentParser(
        prog="cunet-separate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "model",
        help="a run folder, or its model.keras; or several U-Nets joined by ':' (runs/unet-vocals:runs/unet-drums), "
        "separating together: one stem per target of each, --wiener weighing all their estimates",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        help="audio files (wav, flac, mp3, m4a, ogg, ... or a video's audio), folders or glob patterns",
    )
    p.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    p.add_argument(
        "--template",
        help=f"output names (default: {OutputConfig.template}); the suffix .wav, .flac or .mp3 picks the format",
    )
    p.add_argument(
        "--bits",
        type=int,
        choices=(16, 24, 32),
        help="16 or 24-bit integer, 32: float (wav only); default: float wav, 24-bit flac",
    )
    p.add_argument(
        "--clip-mode",
        choices=CLIP_MODES,
        help="stems past full scale: rescale all stems of the input by one factor (default), clamp, or none",
    )
    p.add_argument(
        "--extend",
        choices=EXTENSIONS,
        help="masks above the model's band: each frame's mean mask (average, the default) or zero",
    )
    p.add_argument("--residual", action="store_true", help="one more stem: the input less the estimates")
    p.add_argument("--targets", nargs="+", metavar="NAME", help="only these of the model's targets (default: all)")
    p.add_argument("--two-stems", metavar="NAME", help="NAME and the rest (no_NAME: the input less NAME)")
    p.add_argument(
        "--wiener",
        type=int,
        metavar="N",
        help="unet/cunet: N iterations of the multichannel "
        "Wiener filter at full band (default 0); with "
        "--extend zero the residual is written too",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="network compute; auto (default): bfloat16 where the CPU has native bf16, else float32; "
        "int8: int8 weights run by LiteRT (unet/cunet, TensorFlow backend; the fastest)",
    )
    p.add_argument(
        "--face",
        help="Y-Net on a raw video: whose voice; largest (default), left, right, center, or N (Nth from the left)",
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--patch-overlap", type=int, help="frames neighbouring patches share (0..64)")
    p.add_argument("--block-seconds", type=float)
    p.add_argument("--quiet", action="store_true")
    return p


def parse_args(argv):
    """The parsed command line (``argv`` None: the process's own)."""
    return build_parser().parse_args(argv)


def configs(args) -> tuple[SeparateConfig, OutputConfig]:
    """The separation and output settings of the parsed command line: the defaults but for the flags given.

    Raises:
        ValueError: flags that make an invalid setting (the configs check themselves).
    """

    def given(*names):
        return {n: getattr(args, n) for n in names if getattr(args, n) is not None}

    settings: dict[str, Any] = given(
        "extend", "residual", "wiener", "precision", "batch_size", "patch_overlap", "block_seconds", "two_stems", "face"
    )
    if args.targets:
        settings["targets"] = tuple(args.targets)
    sep = dataclasses.replace(SeparateConfig(), **settings)
    return sep, dataclasses.replace(OutputConfig(), **given("template", "bits", "clip_mode"))


def main(argv: list[str] | None = None) -> int:
    """Separate every input the command line names; returns the exit status (2 after an error)."""
    args = parse_args(argv)
    return run_command(lambda: _separate(args))


def _separate(args) -> int:
    from tqdm import tqdm

    from .load import load_separator

    sep_cfg, out_cfg = configs(args)
    inputs = find_inputs(args.inputs)
    check_output_folder(args.out, "-o")  # before the model loads and every input is read
    separator = load_separator(args.model, sep_cfg)
    if separator.cfg.residual and not sep_cfg.residual:  # a magnitude model's zero extension under Wiener
        print(
            f"note: with --extend zero every Wiener estimate is silent above the model's band "
            f"({separator.sample_rate // 2} Hz): that band goes to the residual stem, written as well, so "
            f"that the stems add up to the input",
            file=sys.stderr,
        )

    @contextlib.contextmanager
    def bar(path: Path):
        with tqdm(unit="sample", unit_scale=True, desc=printable(path.name), disable=args.quiet, leave=False) as b:
            yield b.update

    def done(path: Path, written: list[Path]) -> None:
        if not args.quiet:
            print(f"{printable(path)}: " + ", ".join(printable(w) for w in written))

    with warnings.catch_warnings():
        warnings.simplefilter("always", ClippingWarning)
        warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}", file=sys.stderr)
        separate_files(separator, inputs, Path(args.out), out_cfg, progress=bar, done=done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
