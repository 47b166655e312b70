"""Any folders of stems: one folder per song, one audio file per stem, whatever the stems are called.

Layout::

    ROOT/{train,test}/<track>/<stem>.{wav,flac,mp3,...}
    ROOT/{train,test}/<track>/mixture.{wav,flac,...}        optional: else the sum of the stems

A stem is named by its file name without the extension. A track need not hold every stem of the dataset:
a stem it lacks is silence there (:attr:`StemTrack.present` lists those it holds). The validation tracks
are held out of ``train`` as for MUSDB18 (given, the official names, or a seeded fraction).
"""

from __future__ import annotations

from pathlib import Path

from .. import audio
from ..errors import InputError
from . import checks
from .musdb import choose_validation
from .stems import MIXTURE, StemTrack

SUBSETS = ("train", "test")


def read_track(folder: Path, split: str) -> StemTrack:
    """One track folder: every audio file in it is a stem, ``mixture.*`` the mixture.

    Args:
        folder: ``ROOT/<subset>/<track>``.
        split: ``train``, ``valid`` or ``test``.

    Returns:
        The track, named by its folder."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in audio.AUDIO_EXTENSIONS:
            continue
        stem = checks.printable(path.stem)
        if stem in found:
            raise InputError(folder, f"two files for stem {stem!r}: {found[stem].name} and {path.name}; keep one")
        found[stem] = path
    mixture = found.pop(MIXTURE, None)
    return StemTrack(
        name=checks.printable(folder.name),
        split=split,
        path=folder,
        stems={stem: (path,) for stem, path in found.items()},
        mixture=mixture,
    )


def scan(
    root: str | Path, valid_tracks: list[str] | None = None, valid_fraction: float = 0.15, seed: int = 0
) -> tuple[list[StemTrack], dict]:
    """List the tracks under ``root`` with their splits; raise :class:`InputError` on a mis-laid folder.

    Args:
        root: the folder that holds ``train/`` and ``test/``.
        valid_tracks, valid_fraction, seed: the train tracks held out for validation
            (:func:`cunet.datasets.musdb.choose_validation`).

    Returns:
        (the tracks, train's then test's, sorted by name; how the validation tracks were chosen)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    missing = [s + "/" for s in SUBSETS if not (root / s).is_dir()]
    if missing:
        raise InputError(
            root,
            f"not a stem-folders layout: missing {', '.join(missing)} (expected "
            "ROOT/{train,test}/<track>/<stem>.wav)",
        )
    listed = {
        s: [p for p in sorted((root / s).iterdir()) if p.is_dir() and not p.name.startswith(".")] for s in SUBSETS
    }
    for subset, entries in listed.items():
        if not entries:
            raise InputError(root / subset, "no track folders found (expected <track>/<stem>.wav)")
    valid, how = choose_validation(
        [checks.printable(p.name) for p in listed["train"]], valid_tracks, valid_fraction, seed
    )
    tracks: list[StemTrack] = []
    seen: dict[str, Path] = {}
    for subset, entries in listed.items():
        for folder in entries:
            name = checks.printable(folder.name)
            if name in seen:  # the store and the results know a track by its name
                raise InputError(folder, f"track {name!r} is also {seen[name]}")
            seen[name] = folder
            split = "test" if subset == "test" else ("valid" if name in valid else "train")
            tracks.append(read_track(folder, split))
    return tracks, {"valid_tracks": valid, "valid_chosen_by": how}
