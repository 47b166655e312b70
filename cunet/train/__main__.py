"""``python -m cunet.train --model {unet,cunet,ynet}``: train on a store written by ``python -m cunet.preprocess``.

    python -m cunet.train --model cunet --film complex --control cnn --preset small
    python -m cunet.train --model unet --target vocals --store cunet_data/stores/musdb --preset paper
    python -m cunet.train --model ynet --visual landmarks --depth paper --preset paper --store STORE

Re-running the same command resumes an interrupted run where its last finished epoch left it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..cli import run_command
from ..config import apply_overrides, choices, parse_override
from ..errors import InputError
from ..models.config import MODELS, Control, Depth, Film, ModelConfig, Visual
from ..store import Store
from .config import DEFAULT_STORES, MixedPrecision, Strategy, TrainConfig, preset

MODEL_FLAGS = {"film": "cunet", "control": "cunet", "visual": "ynet", "depth": "ynet", "target": "unet"}


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m cunet.train``."""
    p = argparse.ArgumentParser(
        prog="python -m cunet.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--preset", choices=("small", "paper"), default="small")
    p.add_argument("--store", help="store folder (default: the embedded dataset's)")
    p.add_argument("--run-dir", help="run folder (default: runs/<model name>)")
    p.add_argument("--target", help="unet: the source to learn, one of the store's (default vocals)")
    p.add_argument("--film", choices=choices(Film), help="cunet: FiLM kind")
    p.add_argument("--control", choices=choices(Control), help="cunet: control network")
    p.add_argument("--visual", choices=choices(Visual), help="ynet: visual front end")
    p.add_argument("--depth", choices=choices(Depth), help="ynet: encoder depth")
    p.add_argument("--init-from", metavar="RUN", help="start from this run's trained weights (same model config)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps", type=int, help="steps per epoch")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--strategy", choices=choices(Strategy))
    p.add_argument(
        "--mixed-precision",
        nargs="?",
        const="float16",
        choices=choices(MixedPrecision),
        help="compute in float16 (GPUs; the default when the flag has no value) or bfloat16",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field, e.g. --set learning_rate=3e-4 --set model.widths=[8,16,32,64]",
    )
    p.add_argument("--quiet", action="store_true")
    return p


def parse_args(argv):
    """The parsed command line (``argv`` None: the process's own)."""
    return build_parser().parse_args(argv)


def store_width(path: Path) -> int | None:
    """How many sources the music store at ``path`` holds (a C-U-Net's condition width).

    Args:
        path: a store folder.

    Returns:
        The count, or None where there is no readable music store (training refuses it, naming it)."""
    try:
        sources = Store(path, "music").music.sources
    except InputError:
        return None
    return len(sources) or None


def resolve(args) -> TrainConfig:
    """Defaults, then the preset, then flags, then --set: the config a run is made of."""
    for flag, model in MODEL_FLAGS.items():
        if getattr(args, flag) is not None and args.model != model:
            raise InputError(None, f"--{flag} applies to --model {model}, not --model {args.model}")
    values = dict(preset(args.preset, args.model))
    values.update({"preset": args.preset, "model.model": args.model})
    flags = {
        "store": args.store,
        "run_dir": args.run_dir,
        "target": args.target,
        "model.film": args.film,
        "model.control": args.control,
        "model.visual": args.visual,
        "model.depth": args.depth,
        "init_from": args.init_from,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "strategy": args.strategy,
        "mixed_precision": args.mixed_precision,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    values.update(dict(parse_override(s) for s in args.set))
    model_values = {k.split(".", 1)[1]: values.pop(k) for k in list(values) if k.startswith("model.")}
    cfg = TrainConfig(model=ModelConfig(model=args.model))
    if args.model == "cunet" and "z_dim" not in model_values:  # the control input has the store's width
        width = store_width(Path(values.get("store") or DEFAULT_STORES["music"]))
        if width:
            model_values["z_dim"] = width
    cfg = apply_overrides(cfg, {f"model.{k}": v for k, v in model_values.items()})
    cfg = apply_overrides(cfg, values)
    # recorded resolved: a run scored from another folder still finds its store
    return dataclasses.replace(cfg, store=str(cfg.store_path.resolve()))


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) the run the command line describes; returns the exit status (2 after an error)."""
    args = parse_args(argv)

    def body():
        cfg = resolve(args)
        from .main import train  # TensorFlow loads only once the arguments are known to be good

        run = train(cfg, verbose=0 if args.quiet else 1)
        print(f"trained: {run / 'model.keras'}")

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
