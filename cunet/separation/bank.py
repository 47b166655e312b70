"""Several magnitude models separating as one, as Open-Unmix runs one network per target: dedicated U-Nets
(or C-U-Nets) that together cover several targets.

The members share the input's reading, its STFT and one pass of the separation per block; each member's
network estimates its own targets, and the masks meet where they are applied, so that ``wiener`` weighs
every member's estimates against all the others' (and the residual, since models trained apart do not
promise that their estimates add up to the mixture), instead of each target against the rest alone.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InputError
from .magnitude import MaskSeparator, wiener_settings
from .separator import chosen_targets
from .streaming import SeparateConfig


class BankSeparator(MaskSeparator):
    """The separator of several magnitude models (see the module's docstring), built from their runs.

    Args:
        runs: loaded runs (:class:`~cunet.models.run.Run`), each a U-Net or C-U-Net of the same STFT and
            patch shape, no target estimated by two of them.
        cfg: separation settings; ``targets`` pick among every member's targets.

    Raises:
        InputError: a member that is not a magnitude model, that works on another STFT or patch than the
            first, or that estimates a target another member estimates (naming its folder); a target that
            no member separates.
    """

    def __init__(self, runs, cfg: SeparateConfig = SeparateConfig()):
        if len(runs) < 2:
            raise ValueError("a bank holds two models or more: load one model on its own")
        first = runs[0]
        owner: dict[str, object] = {}

        def shape(card):
            return card.stft, card.patch_bins, card.patch_frames

        for run in runs:
            if run.card.model not in ("unet", "cunet"):
                raise InputError(run.folder, f"a {run.card.model} is not a magnitude model: it cannot join others")
            if shape(run.card) != shape(first.card):
                raise InputError(
                    run.folder,
                    f"works on {shape(run.card)} (STFT, patch bins, frames), the first model "
                    f"({first.folder}) on {shape(first.card)}: models separating together must share them",
                )
            for target in run.card.targets:
                if target in owner:
                    raise InputError(run.folder, f"estimates {target}, as {owner[target]} does: a target has one model")
                owner[target] = run.folder
        # the bank's own card: the first member's conventions, every member's targets
        card = dataclasses.replace(
            first.card, model="unet", targets=tuple(owner), conditions=(), condition_shape=(), combinations=()
        )
        cfg = wiener_settings(cfg)
        chosen = chosen_targets(card, cfg)
        self.members = []
        for run in runs:
            mine = tuple(t for t in chosen if t in run.card.targets)
            if mine:  # each member computes only the chosen targets it owns; one owning none is left out
                own = dataclasses.replace(cfg, targets=mine, two_stems=None, residual=False, wiener=0)
                self.members.append(MaskSeparator(run.model, run.card, own))
        # (the base's settings without its model: the members hold the networks)
        self.card, self.cfg, self._targets = card, cfg, chosen
        self.stft, self.precision, self.model, self._bands = card.stft, self.members[0].precision, None, {}
        # where each chosen target sits in the members' outputs, one after another
        order = [t for m in self.members for t in m.targets]
        self._order = [order.index(t) for t in chosen]

    @property
    def covers_mixture(self) -> bool:
        return False

    @property
    def patches_per_batch(self) -> int:
        """Each member runs its own batches: blocks fill every member's whole."""
        return math.lcm(*(m.patches_per_batch for m in self.members))

    def _run_model(self, patches: np.ndarray) -> np.ndarray:
        return np.concatenate([m._run_model(patches) for m in self.members])[self._order]

    def warm_up(self) -> None:
        for member in self.members:
            member.warm_up()
