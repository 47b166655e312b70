"""The Slakh2100 layout: MIDI-rendered songs whose stems are named by their instrument class.

Layout::

    ROOT/{train,validation,test}/TrackNNNNN/mix.flac
    ROOT/{train,validation,test}/TrackNNNNN/stems/SNN.flac
    ROOT/{train,validation,test}/TrackNNNNN/metadata.yaml

A stem's source is its ``inst_class`` in ``metadata.yaml`` (else ``is_drum``: drums, else the General MIDI
family of its ``program_num``), lower-cased with ``_`` between words (``Synth Pad`` -> ``synth_pad``);
stems of one class in a track are summed. Stems whose ``audio_rendered`` is false have no audio: they are
left out, with one warning for the scan and a note on each track. ``validation`` is cunet's ``valid``
split; without that folder, a seeded fraction of ``train`` is held out.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import yaml

from ..errors import InputError
from . import checks
from .musdb import choose_validation
from .stems import StemTrack, StemWarning

METADATA = "metadata.yaml"
SPLITS = {"train": "train", "validation": "valid", "test": "test"}
# The 16 General MIDI 1 program families, eight programs each (program_num 0-127).
GM_FAMILIES = (
    "Piano",
    "Chromatic Percussion",
    "Organ",
    "Guitar",
    "Bass",
    "Strings",
    "Ensemble",
    "Brass",
    "Reed",
    "Pipe",
    "Synth Lead",
    "Synth Pad",
    "Synth Effects",
    "Ethnic",
    "Percussive",
    "Sound Effects",
)


def source_name(inst_class: str) -> str:
    """A class as a source name that works as a flag value and a file name: ``Synth Pad`` -> ``synth_pad``."""
    return re.sub(r"[^0-9a-z]+", "_", inst_class.lower()).strip("_")


def _stem_class(entry: dict, path: Path, stem_id: str) -> str:
    if isinstance(entry.get("inst_class"), str) and source_name(entry["inst_class"]):
        return entry["inst_class"]
    if entry.get("is_drum") is True:
        return "Drums"
    program = entry.get("program_num")
    if isinstance(program, int) and not isinstance(program, bool) and 0 <= program < 128:
        return GM_FAMILIES[program // 8]
    raise InputError(path, f"stem {stem_id}: no inst_class, is_drum or program_num (0-127) to name its source")


def read_track(folder: Path, split: str) -> StemTrack:
    """One track folder from its ``metadata.yaml``; every rendered stem's file must be there.

    Args:
        folder: ``ROOT/<split folder>/TrackNNNNN``.
        split: ``train``, ``valid`` or ``test``.

    Returns:
        The track: its stems named by source (each the sum of that class's files), ``mix.flac`` as the
        mixture when present (else the sum), unrendered stems listed in ``notes``."""
    path = folder / METADATA
    if not path.is_file():
        raise InputError(path, f"missing: every Slakh2100 track folder holds a {METADATA}")
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(path, f"does not parse as YAML ({' '.join(str(err).split())})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), dict):
        raise InputError(path, "malformed: expected a mapping with a mapping 'stems' (stem id -> its metadata)")
    audio_dir = folder / str(meta.get("audio_dir") or "stems")
    stems: dict[str, list[Path]] = {}
    classes, notes = {}, []
    for stem_id, entry in sorted(meta["stems"].items(), key=lambda item: str(item[0])):
        stem_id = str(stem_id)
        if not isinstance(entry, dict):
            raise InputError(path, f"malformed: stem {stem_id} is not a mapping")
        inst_class = _stem_class(entry, path, stem_id)
        if entry.get("audio_rendered") is False:
            notes.append(f"stem {stem_id} ({inst_class}) not rendered (audio_rendered: false): left out")
            continue
        file = audio_dir / f"{stem_id}.flac"
        if not file.is_file():
            raise InputError(path, f"lists rendered stem {stem_id} ({inst_class}), but {file} is not there")
        stems.setdefault(source_name(inst_class), []).append(file)
        classes[stem_id] = inst_class
    mix = folder / "mix.flac"
    return StemTrack(
        name=checks.printable(folder.name),
        split=split,
        path=folder,
        stems={name: tuple(files) for name, files in stems.items()},
        mixture=mix if mix.is_file() else None,
        info={"inst_class": classes},
        notes=tuple(notes),
    )


def scan(
    root: str | Path, valid_tracks: list[str] | None = None, valid_fraction: float = 0.15, seed: int = 0
) -> tuple[list[StemTrack], dict]:
    """List the tracks under ``root`` with their splits; raise :class:`InputError` naming a bad file.

    Args:
        root: the folder that holds ``train/``, ``validation/`` and ``test/``.
        valid_tracks, valid_fraction, seed: the held-out train tracks when there is no ``validation/``
            (as for MUSDB18, :func:`cunet.datasets.musdb.choose_validation`).

    Returns:
        (the tracks, sorted by split folder and name; how the validation tracks were chosen)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    missing = [s + "/" for s in ("train", "test") if not (root / s).is_dir()]
    if missing:
        hint = (
            "; it looks like a split folder"
            if (root / METADATA).is_file() or any((p / METADATA).is_file() for p in root.iterdir() if p.is_dir())
            else ""
        )
        raise InputError(root, f"not a Slakh2100 layout: missing {', '.join(missing)}{hint}")
    listed = {
        folder: [p for p in sorted((root / folder).iterdir()) if p.is_dir() and not p.name.startswith(".")]
        for folder in SPLITS
        if (root / folder).is_dir()
    }
    if "validation" in listed:
        valid, how = sorted(checks.printable(p.name) for p in listed["validation"]), "slakh2100-validation"
    else:
        valid, how = choose_validation(
            [checks.printable(p.name) for p in listed["train"]], valid_tracks, valid_fraction, seed
        )
    tracks: list[StemTrack] = []
    seen: dict[str, Path] = {}
    for folder, entries in listed.items():
        for entry in entries:
            name = checks.printable(entry.name)
            if name in seen:
                raise InputError(entry, f"track {name!r} is also {seen[name]}")
            seen[name] = entry
            split = "valid" if name in valid else SPLITS[folder]
            tracks.append(read_track(entry, split))
    noted = [f"{t.name}: {note}" for t in tracks for note in t.notes]
    if noted:
        more = f" and {len(noted) - 5} more" if len(noted) > 5 else ""
        warnings.warn(f"{root}: {len(noted)} stem(s) left out: {'; '.join(noted[:5])}{more}", StemWarning, stacklevel=2)
    return tracks, {"valid_tracks": valid, "valid_chosen_by": how}
