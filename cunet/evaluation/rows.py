"""What one score is: a row of ``per_track.csv`` with typed columns, and the labels only tables print.

A row says on which track and split, for which target under which condition (a Y-Net clip's number of
singers, its loudness, whose frames conditioned the model), by which protocol, model and metric. Nothing
downstream reads a label back: ``summary.csv`` keeps the same columns, and :func:`table_label` and
:func:`model_label` make the captions of ``summary.md``, the plots and the listening report.
"""

from __future__ import annotations

import dataclasses

COLUMNS = ("track", "split", "target", "singers", "loudness", "protocol", "model", "frames", "metric", "value")
# The columns that pick one table of summary.md (one target under one condition, split and protocol).
TABLE_KEYS = ("protocol", "split", "target", "singers", "loudness")
# The metric of the rows saying a test track holds none of a target (a song without a guitar): not a score.
# Counted per target ("absent in k tracks"), left out of its medians and of its track count.
ABSENT = "absent"
ALL_SPLITS = "all"  # summary.csv's split of the rows that pool a target's splits (a Y-Net's seen and unseen)
SISEC = " — SiSEC protocol (BSS Eval v4, full band, original rate and channels)"


@dataclasses.dataclass(frozen=True)
class ScoreRow:
    """One score.

    Args:
        track: the track (a Y-Net clip: ``<recording>@<first frame>``).
        split: the store's split it comes from (test, valid, test_seen, test_unseen, ...).
        target: the source scored (a store's source name; ``voice`` for a Y-Net's target singer).
        protocol: ``paper`` or ``sisec``.
        model: a run's name or an oracle (mixture, IRM1, IRM2); empty on an :data:`ABSENT` row.
        metric: sdr, sir, sar, sdr_v4, ..., si_sdr, or :data:`ABSENT`.
        value: dB (1.0 on an :data:`ABSENT` row).
        singers: Y-Net clips: singers in the mixture (1, or 2 with a second singer); None for music.
        loudness: Y-Net clips: the target voice's RMS over the accompaniment's; None for music.
        frames: a visual Y-Net's conditioning: ``own`` (the target singer's frames) or ``other`` (the second
            singer's, the check that the visual branch is used); None for every other model.
    """

    track: str
    split: str
    target: str
    protocol: str
    model: str
    metric: str
    value: float
    singers: int | None = None
    loudness: float | None = None
    frames: str | None = None

    def as_dict(self) -> dict:
        """The row in :data:`COLUMNS` order, for a data frame."""
        return {name: getattr(self, name) for name in COLUMNS}


def target_label(target: str, singers=None, split: str | None = None, protocol: str = "paper") -> str:
    """A table's caption: ``voice (2 singers), test_unseen`` or ``vocals — SiSEC protocol (...)``.

    Args:
        target, singers, protocol: the table's columns (singers None or NaN for music).
        split: named only where the target's tracks come from several splits.
    """
    label = target
    if singers is not None and singers == singers:  # NaN (a music row in a frame with clips) is no count
        count = int(singers)
        label += f" ({count} singer{'s' if count > 1 else ''})"
    if split:
        label += f", {split}"
    return label + (SISEC if protocol == "sisec" else "")


def model_label(model: str, frames: str | None = None) -> str:
    """A model's row name in a table: a visual Y-Net scored with the other singer's frames is a row of its own."""
    return f"{model} (other singer)" if frames == "other" else model
