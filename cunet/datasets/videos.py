"""A folder of solo-singing videos made an Acappella-layout dataset, as Acappella itself was collected.

The videos lie as Acappella's recordings do, ``ROOT/<split>/<Language>/<Gender>/<id>.<ext>`` (.mp4, .mkv, .mov,
.avi, .webm; splits as Acappella's: train, val_seen, test_seen, test_unseen). Each becomes, under the dataset
folder ``OUT``, ``<split>/audio/<Language>/<Gender>/<id>.wav`` (its sound, mono, at 16384 Hz), ``frames/...npy``
and ``landmarks/...npy`` (the face front end's crops and points of its largest face, at 25 fps): the layout
``cunet.datasets.acappella`` reads. A video already converted (all three files there) is not read again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError
from ..fileio import save_npy
from ..singing_input import SAMPLE_RATE
from .acappella import SPLITS


def scan(root: str | Path) -> list[tuple[Path, Path]]:
    """(video, its path relative to its split, without suffix, under the split's name) of every video of
    ``root``, sorted.

    Raises:
        InputError: no split folder, or no video in one, naming the folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    found = []
    splits = sorted(p for p in root.iterdir() if p.is_dir() and (p.name in SPLITS or p.name.startswith("test_unseen")))
    if not splits:
        raise InputError(root, f"no split folder ({', '.join(SPLITS)}) holding <Language>/<Gender>/<id>.mp4")
    for split in splits:
        videos = sorted(p for p in split.glob("*/*/*") if p.suffix.lower() in audio.VIDEO_EXTENSIONS)
        if not videos:
            raise InputError(split, "no video found (expected <Language>/<Gender>/<id>.mp4 or .mkv, .mov, ...)")
        found += [(v, Path(split.name) / v.relative_to(split).with_suffix("")) for v in videos]
    return found


def convert(root: str | Path, out: str | Path, progress: Callable[[Path], None] | None = None) -> Path:
    """Write the Acappella-layout dataset of the videos under ``root`` into ``out`` (see the module's text).

    Returns:
        ``out``.

    Raises:
        InputError: a video without sound or face, or that cannot be read, naming it.
    """
    from ..faces.front_end import face_track

    out = Path(out)
    for video, rel in scan(root):
        split, rest = rel.parts[0], Path(*rel.parts[1:])
        names = {kind: out / split / kind / rest.with_suffix(ext) for kind, ext in ATTACHED}
        if all(p.is_file() for p in names.values()):
            continue
        found = face_track(video)
        with audio.opened(video) as (decoded, _):
            sound, rate = audio.read(decoded)
        voice = audio.resample(sound.mean(0), rate, SAMPLE_RATE)
        # the landmarks and frames last: a video whose three files are there is done
        audio.write(names["audio"], voice.astype(np.float32), SAMPLE_RATE, "PCM_16")
        save_npy(names["landmarks"], found.landmarks)
        save_npy(names["frames"], found.frames)
        if progress:
            progress(video)
    return out


ATTACHED = (("audio", ".wav"), ("landmarks", ".npy"), ("frames", ".npy"))
