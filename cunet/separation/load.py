"""One way in: a trained run folder (or model file) -> the separator of its model family."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import InputError
from ..models.run import Run, load_run
from .magnitude import MaskSeparator
from .separator import Separator
from .streaming import SeparateConfig
from .ynet import YNetSeparator

FAMILIES = {"unet": MaskSeparator, "cunet": MaskSeparator, "ynet": YNetSeparator}


def load_separator(model: str | Path | Run, cfg: SeparateConfig | None = None, **options) -> Separator:
    """The separator for a trained model.

    Args:
        model: a run folder, its ``model.keras``, or a loaded :class:`~cunet.models.run.Run`.
        cfg: separation settings; ``options`` (any :class:`SeparateConfig` field, e.g. ``extend="zero"``,
            ``residual=True``, ``wiener=1``, ``precision="float32"``) override its fields.
    Returns:
        A :class:`Separator`: ``targets``, ``sample_rate``, ``separate(audio, rate)`` and ``stream(...)``.
    """
    cfg = dataclasses.replace(cfg or SeparateConfig(), **options)
    run = model if isinstance(model, Run) else load_run(model)
    try:
        separator = FAMILIES[run.card.model].from_run(run, cfg)
    except InputError as err:  # a target the model lacks: named with the model it was asked of
        if err.path is not None:
            raise
        raise InputError(run.folder, err.problem) from None
    separator.warm_up()
    return separator
