"""The settings of ``python -m cunet.evaluation.results``, saved in every results folder."""

from __future__ import annotations

import dataclasses
from typing import Literal

from ..config import check_choice, choices

# paper: BSS Eval v3 at the model's rate, mono, each target against the rest; sisec: v4 at full band, the original
# rate and channels, every reference at once (museval's); both
Protocol = Literal["paper", "sisec", "both"]
PROTOCOLS = choices(Protocol)
Split = Literal["test", "valid"]  # valid: the music tracks held out of training (a singing store's val_seen clips)


@dataclasses.dataclass(frozen=True)
class ResultsConfig:
    """How ``python -m cunet.evaluation.results`` scores runs: which runs and store, protocols, split, the
    Y-Net clips' mixing (seed, loudness), what the report shows. Saved as ``results_config.json`` in the
    results folder."""

    runs: tuple[str, ...] = ()  # run folders; default: every finished run under runs_root
    runs_root: str = "runs"
    # several magnitude models scored as one separator each, NAME=DIR:DIR... (runs/together_spec): one stem per
    # target of each, one Wiener filter over all their estimates
    together: tuple[str, ...] = ()
    store: str | None = None  # replaces the training store of the runs of its kind
    out: str = "results"
    wiener: int = 0  # Wiener iterations after the magnitude models' masks
    batch_size: int = 16
    seed: int = 0  # picks the accompaniment and the second singer of each Y-Net test clip
    loudness: float = 1.0  # Y-Net test clips: target voice RMS over accompaniment RMS
    v4: bool = True  # BSS Eval v4 as well (the slower of the two)
    max_tracks: int = 0  # score only the first N test tracks or clips (0: all)
    protocol: Protocol = "both"  # paper (v3, model rate, mono), sisec (v4, full band, original rate and channels), both
    report_tracks: int = 2  # the listening report plays this many tracks (or clips) of every target
    split: Split = "test"  # test, or valid: the music tracks held out of training (a singing store's val_seen clips)
    dataset_root: str | None = None  # where a music store's dataset is now (the sisec protocol reads it)
    # Score only the tracks holding every source of their store, as MoisesDB's own benchmark does (its 4-, 5- and
    # 6-stem tables are over 235, 104 and 88 of its 240 songs); by default a song lacking a source is left out of
    # that source's scores only, and counted.
    complete_tracks: bool = False

    def __post_init__(self):
        check_choice("protocol", self.protocol, Protocol)
        check_choice("split", self.split, Split)
