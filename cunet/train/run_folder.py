"""A training run's folder: what it holds, checked before the first write, then prepared, resumed and finished.

The folder holds ``config.json`` (the resolved TrainConfig), ``checkpoints/last.keras`` (model and optimizer
state after the last epoch, with the epoch and callback state inside it), ``checkpoints/state.json`` (a
readable copy of that state), ``checkpoints/best.keras`` (lowest validation loss), ``history.csv``,
``tensorboard/``, ``warnings.txt`` (what the run skipped) and, at the end, ``model.keras`` (the best epoch's
model) with ``model_config.json`` and the model card. Its location is not part of the run: a moved folder
resumes. One writer at a time holds its lock (see :func:`cunet.lock.folder_lock`); :class:`RunFolder` assumes
its caller holds it for every method that writes.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import keras

from .. import config as config_io
from ..errors import InputError
from ..fileio import atomic_path, remove_stale_temporaries
from ..lock import LOCK_FILE, is_bookkeeping
from ..models.card import CARD_FILE, card_for, save_card
from ..outputs import check_output_folder
from .checkpoints import STATE_KEYS, checkpoint_state, damaged, load_checkpoint, model_loads
from .config import TrainConfig
from .distribute import synchronise_batch_norm

WARNINGS_FILE = "warnings.txt"  # what the run skipped (tracks too short for a patch, empty clips)


def same_run(old: TrainConfig, cfg: TrainConfig) -> bool:
    """Whether ``old`` (a folder's config.json) and ``cfg`` describe one run. The folder's location is not part
    of a run: a folder moved elsewhere (or given by another path) resumes as the same run. Stores are compared
    resolved: runs from before stores were recorded resolved hold the path as typed (or none, for the
    default), which resolves the same from where they were made."""

    def key(c: TrainConfig) -> TrainConfig:
        return dataclasses.replace(c, run_dir=None, store=str(c.store_path.resolve()))

    return key(old) == key(cfg)


@dataclasses.dataclass(frozen=True)
class Resumed:
    """Where training goes on from: the last checkpoint's model (None for a new run), its epoch and the
    callback state saved with it (None for a new run)."""

    model: keras.Model | None
    epoch: int
    state: dict | None


class RunFolder:
    """The folder of the run ``cfg`` describes, at ``path``.

    Args:
        cfg: the run's resolved config.
        path: the folder (the chief's; another worker of a multi-worker run keeps one beside it).
    """

    def __init__(self, cfg: TrainConfig, path: Path) -> None:
        self.cfg = cfg
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"

    def check(self) -> None:
        """Refuse, reading only, a folder that cannot hold this run: a file, a folder holding another run's
        config, a folder that is not a run folder.

        Raises:
            InputError: naming the folder or its config.json.
        """
        check_output_folder(self.path, "--run-dir")
        saved = self.path / "config.json"
        if saved.is_file():
            if not same_run(config_io.load(TrainConfig, saved), self.cfg):
                raise InputError(
                    saved,
                    "this run folder holds a run with another config; choose another --run-dir "
                    "(nothing was overwritten)",
                )
        elif self.path.is_dir() and any(not is_bookkeeping(entry.name) for entry in self.path.iterdir()):
            raise InputError(self.path, "exists and is not a cunet run folder: choose another --run-dir")

    def state(self) -> dict | None:
        """The last checkpoint's resume state, or None where there is none yet."""
        return checkpoint_state(self.checkpoints)

    def trained(self) -> bool:
        """Every epoch trained (or early stopping ended the run), whatever the outputs."""
        state = self.state()
        return bool(state and (state["epoch"] >= self.cfg.epochs or state.get("finished")))

    def outputs_complete(self) -> bool:
        """model.keras loads, and the configs a separator reads are there."""
        return (
            (self.path / "model_config.json").is_file()
            and (self.path / CARD_FILE).is_file()
            and model_loads(self.path / "model.keras")
        )

    def done(self) -> bool:
        """Trained to the end with every output in place: running the command again has nothing to do."""
        return self.trained() and self.outputs_complete()

    def remove_if_only_a_lock(self) -> None:
        """Remove the folder where it holds nothing but the lock its writer made (a run refused before its
        first write leaves nothing behind)."""
        entries = list(self.path.iterdir())
        if all(entry.name.startswith(LOCK_FILE) for entry in entries):
            for entry in entries:
                entry.unlink()
            self.path.rmdir()

    def rebuild(self, warnings: list[str], source=None) -> None:
        """A trained run whose model.keras is missing or damaged (killed while writing its outputs, or damaged
        since): make it again from the best checkpoint, the model it is.

        Raises:
            InputError: where the best checkpoint cannot rebuild it.
        """
        best = self.checkpoints / "best.keras"
        if not model_loads(best):
            model = self.path / "model.keras"
            problem = "missing" if not model.is_file() else "damaged (it does not load as a model)"
            raise InputError(
                model,
                f"{problem}, and {best} cannot rebuild it (missing or damaged): restore either, or delete the run "
                "folder to train again",
            )
        state = self.state()
        self.prepare(state["epoch"] if state else 0, warnings)  # a trained run has a state: never 0
        self.finish(source)
        print(f"rebuilt {self.path / 'model.keras'} from {best}", file=sys.stderr)

    def resume(self) -> Resumed:
        """Check every checkpoint the rest of the run reads, then load the last one.

        Raises:
            InputError: a checkpoint that is damaged or lacks part of the resume state, saying how to go on.
        """
        state = self.state()
        if not state:
            return Resumed(None, 0, None)
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise damaged(
                self.checkpoints / "last.keras",
                ValueError(f"its resume state lacks {missing}"),
                "delete it to restart the run from scratch, or restore it",
            )
        if math.isfinite(state["best_val_loss"]):  # the end of the run reads it
            remedy = f"restore it, or delete {self.checkpoints} to restart the run from scratch"
            load_checkpoint(self.checkpoints / "best.keras", remedy)
        remedy = "delete it to restart the run from scratch, or restore it"
        last = load_checkpoint(self.checkpoints / "last.keras", remedy)
        return Resumed(last, state["epoch"], state)

    def prepare(self, epochs_done: int, warnings: list[str]) -> None:
        """The folder's first writes, once everything in it has been checked: stale temporaries go, the config
        is saved (new, or moved: where it is now), history.csv keeps the epochs the checkpoint holds."""
        for folder in (self.path, self.checkpoints):
            remove_stale_temporaries(folder)  # what a killed run of this folder was writing
        saved = self.path / "config.json"
        if not saved.is_file() or config_io.load(TrainConfig, saved) != self.cfg:
            config_io.save(self.cfg, saved)
        self.checkpoints.mkdir(exist_ok=True)
        _trim_history(self.path / "history.csv", epochs_done)
        _record_warnings(self.path, warnings)

    def finish(self, source=None) -> None:
        """Write ``model.keras`` (the best epoch's model) with the configs a separator reads.

        Args:
            source: the training examples, whose store's sources and combinations a C-U-Net's card records
                (from the store, not from code).

        Raises:
            InputError: where no epoch had a finite validation loss.
        """
        best_path = self.checkpoints / "best.keras"
        if not best_path.is_file():
            raise InputError(
                best_path,
                "missing: no epoch had a finite validation loss, so there is no best model "
                "(the training diverged: try a lower learning_rate)",
            )
        best = load_checkpoint(best_path, "restore it, or delete the run folder to train again")
        synchronise_batch_norm(best, False)  # the model users get loads on any backend (JAX refuses it)
        with atomic_path(self.path / "model.keras") as tmp:
            best.save(tmp)
        cfg = self.cfg
        config_io.save(cfg.model, self.path / "model_config.json")
        combinations = getattr(source, "combinations", ()) if cfg.model.model == "cunet" else ()
        card = card_for(
            cfg.model,
            target=cfg.target,
            remix=cfg.remix,
            mixture_level=cfg.mixture_level,
            sources=getattr(source, "sources", None),
            combinations=combinations,
        )
        save_card(card, self.path)


def _trim_history(path: Path, epochs: int) -> None:
    """Keep history.csv's rows of the ``epochs`` epochs the checkpoint holds: a run stopped after the row
    of an epoch was logged but before its checkpoint was written trains that epoch again, and would log it
    twice."""
    if not path.is_file():
        return
    header, *rows = path.read_text().splitlines(keepends=True) or [""]

    def epoch(row: str) -> int | None:
        first = row.split(",", 1)[0]
        return int(first) if first.strip().isdigit() else None

    kept = [row for row in rows if (e := epoch(row)) is not None and e < epochs]
    if len(kept) == len(rows):
        return
    with atomic_path(path) as tmp:
        tmp.write_text(header + "".join(kept) if epochs else "")


def _record_warnings(run: Path, warnings: list[str]) -> None:
    """Print what the run skips, and keep it in the run folder (warnings.txt) beside the results."""
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    path = run / WARNINGS_FILE
    if warnings:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in warnings))
    elif path.is_file():
        path.unlink()
