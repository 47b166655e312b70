"""One way in: a trained run folder (or model file), or several of them, -> the separator of its model family."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..models.run import Run, load_run
from .magnitude import MaskSeparator
from .separator import Separator
from .streaming import SeparateConfig
from .ynet import YNetSeparator

FAMILIES = {"unet": MaskSeparator, "cunet": MaskSeparator, "ynet": YNetSeparator}

Model = str | Path | Run


def model_paths(model: Model | Sequence[Model]) -> list[Model]:
    """The models ``model`` names: one, a sequence of them, or a string of several joined by ``os.pathsep``
    (``runs/unet-vocals:runs/unet-drums``, as the command line takes them)."""
    if isinstance(model, str) and os.pathsep in model:
        return [part for part in model.split(os.pathsep) if part]
    if isinstance(model, (str, Path, Run)):
        return [model]
    return list(model)


def load_separator(model: Model | Sequence[Model], cfg: SeparateConfig | None = None, **options) -> Separator:
    """The separator for a trained model, or for several magnitude models separating together
    (:class:`~cunet.separation.bank.BankSeparator`: one stem per target of each, one Wiener filter over all).

    Args:
        model: a run folder, its ``model.keras``, or a loaded :class:`~cunet.models.run.Run`; or several, as a
            sequence or a string joined by ``os.pathsep``.
        cfg: separation settings; ``options`` (any :class:`SeparateConfig` field, e.g. ``extend="zero"``,
            ``residual=True``, ``wiener=1``, ``precision="float32"``) override its fields.
    Returns:
        A :class:`Separator`: ``targets``, ``sample_rate``, ``separate(audio, rate)`` and ``stream(...)``.
    """
    cfg = dataclasses.replace(cfg or SeparateConfig(), **options)
    runs = [m if isinstance(m, Run) else load_run(m) for m in model_paths(model)]
    if not runs:
        raise InputError(None, "no model given")
    try:
        if len(runs) > 1:
            from .bank import BankSeparator

            separator: Separator = BankSeparator(runs, cfg)
        else:
            separator = FAMILIES[runs[0].card.model].from_run(runs[0], cfg)
    except InputError as err:  # a target no model has: named with the model(s) it was asked of
        if err.path is not None:
            raise
        raise InputError(os.pathsep.join(str(r.folder) for r in runs), err.problem) from None
    separator.warm_up()
    return separator
