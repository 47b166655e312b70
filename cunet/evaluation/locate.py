"""Paths an earlier command recorded, found again from wherever the results command runs.

Stores and runs made before paths were recorded resolved hold them as they were typed, relative to a
folder that was not recorded: the one the command ran in. A project usually keeps its data, stores and runs
under that folder, so a relative path is tried against the recording folder and each folder above it, then
against the current folder, and the first place that holds what is expected there is taken. Where no place
does, nothing is guessed: the caller asks for the path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..store import Store

# where a store's split lies in a MUSDB18 folder: the validation songs are held out of train/
SUBSET_OF_SPLIT = {"test": "test", "valid": "train"}


def find_recorded(recorded: str | Path, recorder: str | Path, holds: Callable[[Path], bool]) -> Path | None:
    """The resolved place a recorded path points to, or None where no candidate ``holds`` what it should.

    Args:
        recorded: the path as recorded (absolute, or relative to an unknown folder).
        recorder: the store or run folder that recorded it; a relative path is tried against it and the
            folders above it first, then against the current folder.
        holds: whether a candidate is the right place (it exists and holds what the recorder expects).
    Returns:
        The first candidate that holds, resolved; None when none does.
    """
    path = Path(recorded)
    if path.is_absolute():
        return path.resolve() if holds(path) else None
    here = Path(recorder).resolve()
    for base in (here, *here.parents, Path.cwd()):
        if holds(base / path):
            return (base / path).resolve()
    return None


def is_store(path: Path) -> bool:
    """Whether ``path`` holds a store (its manifest)."""
    return (path / "manifest.json").is_file()


# The multi-stem layouts: the folders their tracks lie in (MoisesDB's are <provider>/<track id>, of any split).
STEM_LAYOUTS = {
    "moisesdb": lambda root: [t for p in root.iterdir() if p.is_dir() for t in p.iterdir()],
    "slakh": lambda root: [
        t for s in ("train", "validation", "test") if (root / s).is_dir() for t in (root / s).iterdir()
    ],
    "folders": lambda root: [t for s in ("train", "test") if (root / s).is_dir() for t in (root / s).iterdir()],
}


def holds_tracks(root: Path, names: list[str], split: str, dataset: str = "musdb") -> bool:
    """Whether the dataset folder ``root`` holds every named track of ``split`` (MUSDB18: a folder or a
    .stem.mp4; a multi-stem layout: a track folder of that name where the layout keeps them)."""
    if dataset in STEM_LAYOUTS:
        if not root.is_dir():
            return False
        found = {t.name for t in STEM_LAYOUTS[dataset](root) if t.is_dir()}
        return all(n in found for n in names)
    folder = root / SUBSET_OF_SPLIT[split]
    return folder.is_dir() and all((folder / n).is_dir() or (folder / f"{n}.stem.mp4").is_file() for n in names)


def dataset_root(store: Store, split: str = "test", given: str | Path | None = None) -> Path:
    """The MUSDB18 folder a music store was made from, where the SiSEC protocol reads the original audio.

    Args:
        store: the music store.
        split: the store's split to be read (test, or valid: held out of the dataset's train/).
        given: ``--dataset-root``: where the dataset is now, used as it is.
    Returns:
        The folder, resolved; raises :class:`InputError` naming the recorded folder when it no longer holds
        the store's tracks of ``split`` (a dataset moved, or a relative path that leads nowhere from here).
    """
    dataset = store.manifest.source.dataset if store.manifest.source else "musdb"
    if given is not None:
        root = Path(given).resolve()
        if dataset in STEM_LAYOUTS:
            if not root.is_dir():
                raise InputError(given, f"--dataset-root is not a folder (the {dataset} layout's root)")
            return root
        if not (root / SUBSET_OF_SPLIT[split]).is_dir():
            raise InputError(given, f"--dataset-root is not a MUSDB18 folder: it holds no {SUBSET_OF_SPLIT[split]}/")
        return root  # the names are checked against its listing when it is read
    recorded = store.manifest.source.root if store.manifest.source else None
    if not recorded:
        raise InputError(
            store.manifest_path,
            "records no dataset folder: give --dataset-root PATH, where the dataset is, or use --protocol paper",
        )
    names = [t.name for t in store.tracks if t.split == split]
    found = find_recorded(recorded, store.path, lambda root: holds_tracks(root, names, split, dataset))
    if found is None:
        relative = (
            ""
            if Path(recorded).is_absolute()
            else (f" (a relative path, tried from {store.path} and each folder above it, and from the current folder)")
        )
        raise InputError(
            recorded,
            f"the sisec protocol reads the original audio of {store.path} from this "
            f"folder, recorded in its manifest{relative}, which does not hold the store's "
            f"{split} tracks: give --dataset-root PATH, where the dataset is now, "
            "or use --protocol paper",
        )
    return found
