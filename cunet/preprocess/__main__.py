"""``python -m cunet.preprocess``: a dataset on disk becomes a store of spectrograms (or clips) and patch indexes.

With no arguments, the embedded synthetic dataset is generated (if missing) under cunet_data/synthetic
and preprocessed into cunet_data/stores/synthetic/{musdb,acappella}.

    python -m cunet.preprocess --dataset musdb --root /data/musdb18hq --jobs 2
    python -m cunet.preprocess --dataset acappella --root /data/acappella --acc-root /data/audioset
    python -m cunet.preprocess --dataset videos --root /data/my-singers --acc-root /data/audioset
    python -m cunet.preprocess --dataset moisesdb --root /data/moisesdb --sources vocals drums bass guitar piano other
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from ..cli import run_command
from ..config import apply_overrides, parse_override
from ..datasets.checks import printable
from ..datasets.sizes import SIZES
from ..outputs import check_output_folder
from .build import music_store, singing_store, stem_store, writing
from .config import DATASETS, STEM_DATASETS, PreprocessConfig
from .jobs import parse_shard

DEFAULT_OUT = Path("cunet_data/stores")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m cunet.preprocess``."""
    p = argparse.ArgumentParser(
        prog="python -m cunet.preprocess", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", choices=DATASETS, default="synthetic")
    p.add_argument("--root", help="dataset folder (synthetic: where to generate it; default cunet_data/synthetic)")
    p.add_argument("--acc-root", help="accompaniment tree for acappella (default ROOT/../accompaniment)")
    p.add_argument(
        "--out",
        help="store folder (synthetic: the folder that receives musdb/ and acappella/ stores; "
        f"default {DEFAULT_OUT}/<dataset>)",
    )
    p.add_argument("--seed", type=int, default=0, help="synthetic data and seeded validation split")
    p.add_argument("--size", choices=sorted(SIZES), default="default", help="synthetic dataset size")
    p.add_argument("--valid-tracks", nargs="+", default=(), metavar="NAME", help="train tracks held out")
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.15,
        help="seeded fraction of train held out when no MUSDB18 validation names match",
    )
    p.add_argument("--test-tracks", nargs="+", default=(), metavar="ID", help="moisesdb: the test tracks")
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="moisesdb: seeded fraction of the tracks held out for testing when no --test-tracks",
    )
    p.add_argument(
        "--sources",
        nargs="+",
        default=(),
        metavar="NAME",
        help="moisesdb, slakh, folders: the store's sources in condition order (default: every stem)",
    )
    p.add_argument(
        "--rest",
        default="other",
        metavar="NAME",
        help="the source that collects every stem no other source names (default other)",
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=A+B",
        help="a source made of the sum of stems (repeatable)",
    )
    p.add_argument(
        "--condition",
        action="append",
        default=[],
        metavar="NAME=A+B",
        help="a condition of several sources trained as such, the target their sum (repeatable)",
    )
    p.add_argument("--add-zero", action="store_true", help="index the all-zeros condition too")
    p.add_argument("--add-all", action="store_true", help="index the all-ones condition too")
    p.add_argument("--patch-frames", type=int, default=128)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="tracks processed in parallel (default: one per CPU core; the result is the same)",
    )
    p.add_argument("--shard", help="i/n: process every n-th track starting at i (for several machines)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def parse_args(argv):
    """The parsed command line (``argv`` None: the process's own)."""
    return build_parser().parse_args(argv)


def run(args) -> list[Path | None]:
    """Make the store (or, for the synthetic dataset, the two stores) the command line asks for, generating the
    synthetic dataset first where it is missing or differs.

    Args:
        args: the parsed command line; ``--set`` overrides the config the flags make.

    Returns:
        Each store's folder, or None for a store whose manifest waits for tracks of other shards.

    Raises:
        InputError: a bad ``--shard`` or ``--set``, or a dataset that cannot be read.
        ValueError: flags that make an invalid config.
    """
    cfg = PreprocessConfig(
        dataset=args.dataset,
        root=args.root,
        acc_root=args.acc_root,
        seed=args.seed,
        synthetic_size=args.size,
        valid_tracks=tuple(args.valid_tracks),
        valid_fraction=args.valid_fraction,
        add_zero=args.add_zero,
        add_all=args.add_all,
        patch_frames=args.patch_frames,
        sources=tuple(args.sources),
        rest=args.rest,
        groups=tuple(args.group),
        combinations=tuple(args.condition),
        test_tracks=tuple(args.test_tracks),
        test_fraction=args.test_fraction,
    )
    if args.set:
        cfg = apply_overrides(cfg, dict(parse_override(s) for s in args.set))
    shard, progress = parse_shard(args.shard), not args.quiet
    out = Path(args.out) if args.out else DEFAULT_OUT / cfg.dataset
    common = {"workers": max(1, args.jobs), "shard": shard, "progress": progress}
    if cfg.dataset == "synthetic":
        root = Path(cfg.root or "cunet_data/synthetic")
        check_output_folder(out, "--out")
        with contextlib.ExitStack() as held:
            # Both stores are held before the dataset is generated: a second run stops at once instead of
            # generating the same dataset beside the first and replacing it under its feet.
            held.enter_context(writing(out / "musdb", "music", shard))
            held.enter_context(writing(out / "acappella", "singing", shard))
            from ..datasets import synthetic  # the generator: loaded only when it runs

            synthetic.ensure(root, cfg.seed, cfg.synthetic_size, jobs=max(1, args.jobs))
            return [
                music_store(cfg, root / "musdb", out / "musdb", locked=True, **common),
                singing_store(
                    cfg, root / "acappella", root / "accompaniment", out / "acappella", locked=True, **common
                ),
            ]
    if cfg.root is None:  # not reached: the config refuses a dataset other than synthetic without a root
        raise ValueError(f"--dataset {cfg.dataset} needs --root PATH")
    root = Path(cfg.root)
    if cfg.dataset == "musdb":
        return [music_store(cfg, root, out, **common)]
    if cfg.dataset in STEM_DATASETS:
        return [stem_store(cfg, root, out, **common)]
    acc_root = Path(cfg.acc_root) if cfg.acc_root else root.parent / "accompaniment"
    if cfg.dataset == "videos":  # made an Acappella-layout dataset beside the store first (datasets/videos.py)
        from ..datasets import videos

        check_output_folder(out, "--out")
        announce = (lambda path: print(f"{path}: converted", file=sys.stderr)) if progress else None
        root = videos.convert(root, out.with_name(out.name + "-acappella"), announce)
    return [singing_store(cfg, root, acc_root, out, **common)]


def main(argv: list[str] | None = None) -> int:
    """Run the command and print every store made; returns the exit status (2 after an error)."""
    args = parse_args(argv)

    def body():
        for path in run(args):
            if path is not None:
                print(f"store ready: {printable(os.fspath(path))}")

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
