"""The embedded dataset's sizes, apart from its generator: a command offers them as choices without loading
the generator's signal processing (scipy.signal, half a second)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Size:
    """How much of the four-source dataset a size writes: MUSDB songs, Acappella singers and clips, and
    accompaniment clips, with their lengths in seconds. Recorded in ``synthetic.json`` as its ``spec``.

    ``clip_seconds`` is the length of a training clip, sung or accompaniment; ``eval_seconds`` that of every
    validation and test clip, sung or accompaniment.
    """

    music_train: int  # songs in musdb/train (a seeded part becomes validation at preprocessing)
    music_test: int
    music_seconds: float
    singers: int  # seen singers; two more appear only in test_unseen
    train_clips: int  # per seen singer
    clip_seconds: float
    eval_seconds: float  # val_seen, test_seen, test_unseen clips
    acc_clips: int  # per category in the training accompaniment


SIZES = {
    "tiny": Size(3, 1, 8.0, 8, 1, 6.0, 5.0, 1),
    "default": Size(12, 4, 20.0, 8, 3, 10.0, 6.0, 3),
    # default's songs and clips (a file depends on its index and length only) with 12 test songs: enough
    # for a distribution-free 95 % interval of a median difference (bench/quality.py's claims)
    "bench": Size(12, 12, 20.0, 8, 3, 10.0, 6.0, 3),
    "large": Size(80, 20, 30.0, 16, 8, 20.0, 8.0, 12),
}


@dataclasses.dataclass(frozen=True)
class SixSourceSize:
    """How much of the six-source ``moisesdb/`` tree a size writes: the number of songs and each one's length in
    seconds. Recorded in ``synthetic.json`` as its ``six_source_spec``."""

    songs: int  # in moisesdb/ (no official split: preprocessing draws a seeded test and validation part)
    seconds: float


# A table apart from SIZES, so that the four-source trees and their synthetic.json keep their bytes. bench holds
# default's songs and more: a fifth drawn for testing (the MoisesDB reader's default) is 16 songs, about 12 of
# them with a guitar (one song in four has none) and 12 with a piano.
SIX_SOURCE_SIZES = {
    "tiny": SixSourceSize(4, 8.0),
    "default": SixSourceSize(24, 20.0),
    "bench": SixSourceSize(80, 20.0),
    "large": SixSourceSize(160, 30.0),
}
SOURCE_COUNTS = (4, 6)
