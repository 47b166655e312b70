"""What the separation command reads: the inputs its command line names, each decoded once.

:func:`find_inputs` turns files, folders and glob patterns into files. :func:`checked_input` opens one of them
for the whole of its separation: a compressed file decoded once (into a temporary float wav), a Y-Net's video
read once (kept on disk beside it, so that many inputs held at once do not hold their frames in memory), and in
one pass over its samples every sample checked finite and the separator's input scale computed. Separation
then reads the decoded audio block by block (:mod:`cunet.separation.writers`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import InputError
from .separator import Separator
from .streaming import Source
from .visual import load_visual

GLOB_MAGIC = "*?["


def find_inputs(specs: list[str]) -> list[Path]:
    """Files (any audio format, or a video's audio track), folders (every audio file inside, recursively,
    hidden ones aside) and glob patterns (``**`` for any depth), in a stable order, each file once however
    many names reach it (symbolic links, a folder given twice)."""
    found: list[Path] = []
    seen: set[Path] = set()
    for spec in specs:
        if any(c in spec for c in GLOB_MAGIC):
            paths = [p for p in _glob(spec) if p.is_file()]
            if not paths:
                raise InputError(spec, "the pattern matches no file")
        elif Path(spec).is_dir():
            paths = [p for p in _files_below(Path(spec)) if p.suffix.lower() in audio.AUDIO_EXTENSIONS]
            if not paths:
                raise InputError(spec, f"folder holds no audio file ({' '.join(audio.AUDIO_EXTENSIONS)})")
        elif Path(spec).is_file():
            paths = [Path(spec)]
        else:
            raise InputError(spec, "no such file or folder")
        for p in paths:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                found.append(p)
    return found


def _files_below(top: Path) -> list[Path]:
    """Every file below ``top`` (not hidden, nor in a hidden folder), sorted. Symbolically linked folders
    are followed, but each real folder is entered once: a link back up the tree (a loop) or to a folder
    already walked adds nothing, where following it blindly would walk the loop until the path grew too
    long, and never end with two such links in one folder. A folder that cannot be read is an error."""

    def refuse(err: OSError) -> None:
        raise err

    entered: set[tuple[int, int]] = set()
    files: list[Path] = []
    for root, folders, names in os.walk(top, followlinks=True, onerror=refuse):
        status = os.stat(root)
        if (status.st_dev, status.st_ino) in entered:
            folders[:] = []
            continue
        entered.add((status.st_dev, status.st_ino))
        folders[:] = sorted(f for f in folders if not f.startswith("."))  # hidden: temporaries, AppleDouble
        files += [Path(root, n) for n in names if not n.startswith(".")]
    return sorted(files)


def _glob(pattern: str) -> list[Path]:
    """The paths ``pattern`` matches, as :func:`glob.glob` gives them, but a ``**`` part walks folders as
    :func:`_files_below` does (glob follows every symbolic link, loops included). Wildcards do not match
    hidden names unless the part itself starts with a dot, as with glob."""
    parts = Path(pattern).parts
    if "**" not in parts:  # a fixed number of parts: finite whatever links the folders hold
        return sorted(Path(p) for p in glob.glob(pattern))
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in GLOB_MAGIC))
    base = Path(*parts[:fixed]) if fixed else Path(".")
    if not base.is_dir():
        return []
    return [p for p in _files_below(base) if _matches(parts[fixed:], p.relative_to(base).parts)]


def _matches(pattern: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """Whether the path parts ``names`` match the pattern parts; ``**`` stands for any number of folders."""
    if not pattern:
        return not names
    if pattern[0] == "**":
        return _matches(pattern[1:], names) or (
            bool(names) and not names[0].startswith(".") and _matches(pattern, names[1:])
        )
    return (
        bool(names)
        and fnmatch.fnmatchcase(names[0], pattern[0])
        and (pattern[0].startswith(".") or not names[0].startswith("."))
        and _matches(pattern[1:], names[1:])
    )


def visual_input(separator: Separator, path: Path):
    """A Y-Net's frames or landmarks for ``path`` and the file they came from (None, None for others)."""
    if separator.visual == "none":
        return None, None
    return load_visual(path, separator.visual, separator.card.fps, separator.cfg.face)


@dataclasses.dataclass
class CheckedInput:
    """An input ready to separate: checked whole, with what its separation needs.

    Args:
        path: the user's file.
        source: its audio, read in spans (from the decoded copy where the file is compressed).
        scale: the separator's input scale (a magnitude model's training scale), None where it has none.
        visual: a Y-Net's frames or landmarks (read from disk as needed), None for other models.
        visual_name: the file ``visual`` came from.
    """

    path: Path
    source: Source
    scale: float | None
    visual: np.ndarray | None
    visual_name: Path | None


@contextlib.contextmanager
def checked_input(separator: Separator, path: str | Path) -> Iterator[CheckedInput]:
    """Open ``path`` for separation by ``separator``; what was decoded goes when the block ends.

    Raises:
        InputError: naming the file: unreadable, empty, truncated, a NaN or infinite sample, a video the model
            cannot use.
    """
    path = Path(path)
    with audio.opened(path) as (readable, meta), tempfile.TemporaryDirectory(prefix="cunet-input-") as tmp:
        source = Source.from_file(readable, meta, name=path)
        visual, visual_name = visual_input(separator, path)
        if visual is not None and not isinstance(visual, np.memmap):  # a decoded video: read back in slices
            np.save(Path(tmp) / "visual.npy", visual, allow_pickle=False)
            visual = np.load(Path(tmp) / "visual.npy", mmap_mode="r", allow_pickle=False)
        scale = separator.input_scale(source)
        separator.check(source, visual, visual_name)
        yield CheckedInput(path, source, scale, visual, visual_name)
