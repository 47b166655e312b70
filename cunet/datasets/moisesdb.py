"""The MoisesDB layout: several files per stem, no mixture on disk, no official split.

Layout (as moises-ai/moises-db distributes it)::

    ROOT/<provider>/<track id>/data.json
    ROOT/<provider>/<track id>/<stemName>/<file id>.<extension>

``data.json`` holds ``artist``, ``song``, ``genre`` and ``stems: [{stemName, tracks: [{trackType, id,
extension, has_bleed}]}]``. A stem is the sum of its files; the mixture is the sum of every file. The
test and validation tracks are given by id or picked by a seeded fraction, and recorded for the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from . import checks
from .stems import MIXTURE, StemTrack, seeded_pick

DATA_FILE = "data.json"


def _folders(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def _malformed(path: Path, what: str) -> InputError:
    return InputError(path, f"malformed {DATA_FILE}: {what}")


def _text(entry: dict, key: str, path: Path, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _malformed(path, f"{where} has no {key!r} (a non-empty string)")
    return value


def read_track(folder: Path, provider: str, split: str = "train") -> StemTrack:
    """One track folder from its ``data.json``; every file it names must be there.

    Args:
        folder: ``ROOT/<provider>/<track id>``.
        provider: the provider folder's name (recorded in the track's info).
        split: ``train``, ``valid`` or ``test``.

    Returns:
        The track, named by its id (the folder's name)."""
    path = folder / DATA_FILE
    if not path.is_file():
        raise InputError(path, f"missing: every track folder of a MoisesDB layout holds a {DATA_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _malformed(path, f"not JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("stems"), list):
        raise _malformed(path, "expected an object with a list 'stems'")
    stems: dict[str, list[Path]] = {}
    types: dict[str, list[str]] = {}
    bleed = []
    for i, stem in enumerate(data["stems"]):
        if not isinstance(stem, dict) or not isinstance(stem.get("tracks"), list):
            raise _malformed(path, f"stems[{i}] is not an object with a list 'tracks'")
        name = _text(stem, "stemName", path, f"stems[{i}]")
        if name == MIXTURE or "/" in name or name.startswith("."):
            raise _malformed(path, f"stems[{i}]: {name!r} cannot be a stem's name (nor its folder's)")
        for j, entry in enumerate(stem["tracks"]):
            where = f"stems[{i}].tracks[{j}]"
            if not isinstance(entry, dict):
                raise _malformed(path, f"{where} is not an object")
            extension = _text(entry, "extension", path, where).lstrip(".")
            file = folder / name / f"{_text(entry, 'id', path, where)}.{extension}"
            if not file.is_file():
                raise InputError(path, f"names {file}, which is not there (stem {name!r}, {where})")
            stems.setdefault(name, []).append(file)
            types.setdefault(name, []).append(str(entry.get("trackType", "")))
            if entry.get("has_bleed"):
                bleed.append(checks.printable(file.relative_to(folder)))
    info = {"provider": checks.printable(provider), "track_types": types, "has_bleed": bleed}
    info.update({key: str(data[key]) for key in ("artist", "song", "genre") if key in data})
    return StemTrack(
        name=checks.printable(folder.name),
        split=split,
        path=folder,
        stems={name: tuple(files) for name, files in stems.items()},
        info=info,
    )


def _track_folders(root: Path) -> list[tuple[str, Path]]:
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    found = [(provider.name, track) for provider in _folders(root) for track in _folders(provider)]
    if not found:
        hint = ""
        if (root / DATA_FILE).is_file() or any((p / DATA_FILE).is_file() for p in _folders(root)):
            hint = ": it looks like a track or provider folder, pass the folder that holds the provider folders"
        raise InputError(root, f"no tracks found (expected <provider>/<track id>/{DATA_FILE}){hint}")
    return found


def scan(
    root: str | Path,
    test_tracks=(),
    test_fraction: float = 0.2,
    valid_tracks=(),
    valid_fraction: float = 0.15,
    seed: int = 0,
) -> tuple[list[StemTrack], dict]:
    """List the tracks under ``root`` with their splits; raise :class:`InputError` naming a bad file.

    Args:
        root: the folder that holds the provider folders.
        test_tracks: track ids held out for testing; none given: a seeded ``test_fraction`` of all.
        valid_tracks: track ids held out for validation; none given: a seeded ``valid_fraction`` of
            those not in the test split.
        seed: of both picks.

    Returns:
        (the tracks, sorted by provider and id; how the splits were chosen, for the manifest)."""
    root = Path(root)
    found = _track_folders(root)
    seen: dict[str, Path] = {}
    for _, folder in found:
        name = checks.printable(folder.name)
        if name in seen:
            raise InputError(folder, f"track id {name!r} is also {seen[name]}")
        seen[name] = folder
    names = sorted(seen)
    test, test_how = seeded_pick(names, test_tracks, test_fraction, seed, "--test-tracks")
    rest = [n for n in names if n not in test]
    valid, valid_how = seeded_pick(
        rest, valid_tracks, valid_fraction, seed, "--valid-tracks", "the tracks outside the test split"
    )
    tracks = []
    for provider, folder in found:
        name = checks.printable(folder.name)
        split = "test" if name in test else "valid" if name in valid else "train"
        tracks.append(read_track(folder, provider, split))
    return tracks, {
        "test_tracks": test,
        "test_chosen_by": test_how,
        "valid_tracks": valid,
        "valid_chosen_by": valid_how,
        "seed": seed,
    }
