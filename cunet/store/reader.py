"""Reading a store written by ``python -m cunet.preprocess``: manifest, memory-mapped arrays, indexes.

Nothing is loaded whole: every array is opened with ``mmap_mode="r"`` the first time it is asked for,
so a store larger than memory trains as well as a small one. :meth:`Store.check` goes over everything a
training run will read before it reads any of it (the manifest's fields, every array's header, length and
values, the indexes' bounds), so that a damaged store is refused at the start naming the file, rather than
failing inside the input pipeline hours later.
"""

from __future__ import annotations

import math
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import load_json, load_npy
from ..singing_input import MOUTH_COLS, MOUTH_ROWS, N_LANDMARKS
from .manifest import (
    FORMAT,
    VERSION,
    MusicIndex,
    MusicManifest,
    SingingIndex,
    SingingManifest,
    Track,
    parse,
)

CHUNK_BYTES = 1 << 24  # the value check reads this much at a time, so its memory does not grow with the store


def _repair(path: Path) -> str:
    # Re-running preprocessing skips a track whose folder is complete by its records, whatever its arrays.
    return (
        f"delete its folder {path.parent} and re-run python -m cunet.preprocess (with the same options) to rewrite it"
    )


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(shape, dtype, data offset, Fortran order) of a .npy file, from its header alone; a file shorter than
    its header says (a copy or a write cut short) is refused here, where memory-mapping it would fail later."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except ValueError as err:  # a bad magic string or header, or a header cut short
        raise InputError(path, f"not a readable .npy array ({err})") from None
    if dtype.hasobject:
        raise InputError(path, "holds Python objects (it would need pickle): not a cunet store array")
    need = offset + math.prod(shape) * dtype.itemsize
    size = os.path.getsize(path)
    if size < need:
        raise InputError(
            path, f"truncated: its header describes {dtype} {shape}, {need} bytes, but the file holds {size}"
        )
    return tuple(shape), dtype, offset, fortran


def first_non_finite(
    path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int, fortran: bool = False
) -> tuple[int, ...] | None:
    """Where the first NaN or infinity in a float or complex .npy file is (an index into ``shape``), or None.

    Read a chunk at a time with plain reads rather than through a memory map, whose pages would stay
    resident: the check then needs CHUNK_BYTES of memory whatever the size of the store.
    """
    if dtype.kind not in "fc":
        return None
    total, step = math.prod(shape), max(1, CHUNK_BYTES // dtype.itemsize)
    with open(path, "rb") as f:
        f.seek(offset)
        done = 0
        while done < total:
            chunk = np.fromfile(f, dtype=dtype, count=min(step, total - done))
            bad = np.flatnonzero(~np.isfinite(chunk))
            if len(bad):
                where = np.unravel_index(done + int(bad[0]), shape, order="F" if fortran else "C")
                return tuple(int(i) for i in where)
            done += len(chunk)
    return None


class Store:
    """A preprocessed dataset: ``Store(path).tracks``, ``.array(track_id, name)``, ``.index("train")``."""

    def __init__(self, path: str | Path, kind: str | None = None):
        self.path = Path(path)
        manifest_path = self.path / "manifest.json"
        if not manifest_path.is_file():
            hint = (
                " (run python -m cunet.preprocess first)"
                if not self.path.exists()
                else " (preprocessing did not finish: re-run it)"
            )
            raise InputError(self.path, f"no store here: manifest.json is missing{hint}")
        raw = load_json(manifest_path)
        if not isinstance(raw, dict):
            raise InputError(manifest_path, "not a cunet store manifest (not a JSON object)")
        found = (raw.get("format"), raw.get("version"))
        if found != (FORMAT, VERSION):
            raise InputError(
                manifest_path,
                f"store format {found} is not {(FORMAT, VERSION)}: "
                "re-run python -m cunet.preprocess with this version of cunet",
            )
        if kind is not None and raw.get("kind") != kind:
            raise InputError(manifest_path, f"a {raw.get('kind')} store, but this needs a {kind} store")
        self.manifest: MusicManifest | SingingManifest = parse(raw, manifest_path)
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def music(self) -> MusicManifest:
        """The manifest of a music store.

        Raises:
            InputError: naming the manifest, when this is a singing store."""
        if not isinstance(self.manifest, MusicManifest):
            raise InputError(self.manifest_path, "a singing store, but this needs a music store")
        return self.manifest

    @property
    def singing(self) -> SingingManifest:
        """The manifest of a singing store.

        Raises:
            InputError: naming the manifest, when this is a music store."""
        if not isinstance(self.manifest, SingingManifest):
            raise InputError(self.manifest_path, "a music store, but this needs a singing store")
        return self.manifest

    @property
    def tracks(self) -> tuple[Track, ...]:
        return self.manifest.tracks

    def track_ids(self, split: str) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.tracks) if t.split == split], dtype=np.int64)

    def array(self, track: int, name: str, folder: str | None = None) -> np.ndarray:
        """The memory-mapped ``<name>.npy`` of a track (or of any store folder)."""
        folder = folder or self.tracks[track].folder
        key = (folder, name)
        if key not in self._arrays:
            self._arrays[key] = load_npy(self.path / folder / f"{name}.npy")
        return self._arrays[key]

    # -- checks ---------------------------------------------------------------------------------------------

    def index(self, split: str) -> np.ndarray:
        """The (rows, columns) int index of ``split``, checked against the manifest: every row's patch (or
        clip) lies inside its track, and its track belongs to the split."""
        meta = self.manifest.indexes.get(split)
        if meta is None:
            raise InputError(self.path, f"no {split!r} index in this store")
        file = self.path / meta.file
        rows = load_npy(file, mmap=False)
        columns = list(meta.columns)
        if rows.dtype.kind != "i" or rows.ndim != 2 or rows.shape[1] != len(columns) or len(rows) != meta.rows:
            raise InputError(
                file,
                f"corrupt index: expected {meta.rows} integer rows of {columns}, found {rows.dtype} {rows.shape}",
            )
        if not len(rows):
            return rows
        if rows[:, 0].min() < 0 or rows[:, 0].max() >= len(self.tracks):
            raise InputError(file, "corrupt index: track ids outside the manifest")
        tracks = rows[:, 0]
        starts = rows[:, 1].astype(np.int64)
        n_frames = np.array([t.n_frames for t in self.tracks], np.int64)[tracks]
        span = meta.patch_frames if isinstance(meta, MusicIndex) else meta.video_frames
        past = (starts < 0) | (starts + span > n_frames)
        if isinstance(meta, SingingIndex):  # the clip's audio must fit too
            n_samples = np.array([t.n_samples for t in self.tracks], np.int64)[tracks]
            first = np.round(starts * self.singing.samples_per_frame).astype(np.int64)
            past |= first + meta.clip_samples > n_samples
        if past.any():
            r = int(np.flatnonzero(past)[0])
            track = self.tracks[int(tracks[r])]
            raise InputError(
                file,
                f"corrupt index: row {r} (start frame {int(starts[r])}, {span} frames) points "
                f"past the end of track {track.name!r} ({track.n_frames} frames; "
                f"{int(past.sum())} such row(s)): re-run python -m cunet.preprocess",
            )
        own = meta.split if isinstance(meta, SingingIndex) else split
        foreign = np.flatnonzero(np.array([t.split != own for t in self.tracks])[tracks])
        if len(foreign):  # a test track in the training index would leak it into training
            track = self.tracks[int(tracks[foreign[0]])]
            raise InputError(
                file,
                f"corrupt index: row {int(foreign[0])} draws track {track.name!r} of "
                f"split {track.split!r} into the {own!r} index",
            )
        if isinstance(meta, MusicIndex) and (rows[:, 2].min() < 0 or rows[:, 2].max() >= len(self.conditions)):
            raise InputError(file, f"corrupt index: condition ids outside the {len(self.conditions)} conditions")
        return rows

    def expected_arrays(self):
        """(path, track name, shape the manifest implies (None: any), what the dimensions are) of every
        array the manifest refers to."""
        m = self.manifest
        if isinstance(m, MusicManifest):
            bins = m.stft.n_fft // 2 + 1
            for t in m.tracks:
                for stem in m.stems:
                    yield self.path / t.folder / f"{stem}.npy", t.name, (bins, t.n_frames), "(bins, frames)"
            return
        for s in m.tracks:
            folder = self.path / s.folder
            yield folder / "voice.npy", s.name, (s.n_samples,), "(samples,)"
            yield folder / "frames.npy", s.name, (s.n_frames, None, None, 3), "(frames, height, width, 3)"
            yield folder / "landmarks.npy", s.name, (s.n_frames, N_LANDMARKS, 2), "(frames, points, 2)"
        for clip in m.accompaniment:
            yield self.path / clip.folder / "audio.npy", clip.name, (clip.n_samples,), "(samples,)"

    def _checked_arrays(self):
        """(path, track name, dimensions, header) of every array, each refused unless present, whole (as long
        as its header says) and of the shape the manifest implies."""
        for path, name, expected, dims in self.expected_arrays():
            try:
                header = npy_header(path)
            except InputError as err:
                raise InputError(path, f"{err.problem} (track {name!r}): {_repair(path)}") from None
            shape = header[0]
            if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
                want = tuple("any" if e is None else e for e in expected)
                raise InputError(
                    path, f"shape {shape}, but the manifest's track {name!r} implies {dims} = {want}: {_repair(path)}"
                )
            if path.name == "frames.npy" and (shape[1] < MOUTH_ROWS.stop or shape[2] < MOUTH_COLS.stop):
                raise InputError(
                    path,
                    f"frames of {shape[1]}x{shape[2]} pixels hold no mouth region (rows "
                    f"{MOUTH_ROWS.start}-{MOUTH_ROWS.stop}, columns {MOUTH_COLS.start}-"
                    f"{MOUTH_COLS.stop}) (track {name!r}): {_repair(path)}",
                )
            yield path, name, dims, header

    def check(self, values: bool = True) -> None:
        """Everything training reads, before it reads any of it: the manifest's fields, the indexes' bounds,
        every array's presence, header and length (all cheap), and with ``values`` (which reads the whole
        store, see :meth:`check_values`) that no float array holds a NaN or an infinity. A refusal names the
        file; the track is named in the problem."""
        for split in self.manifest.indexes:
            self.index(split)
        if isinstance(self.manifest, MusicManifest):
            conditions = self.path / self.manifest.conditions.file
            shape, dtype, offset, fortran = npy_header(conditions)
            if (
                len(shape) != 2
                or dtype.kind != "f"
                or first_non_finite(conditions, shape, dtype, offset, fortran) is not None
            ):
                raise InputError(
                    conditions,
                    f"corrupt condition vectors: expected finite floats (conditions, sources), found {dtype} {shape}",
                )
        for _ in self._checked_arrays():
            pass
        if values:
            self.check_values()

    def check_values(self) -> None:
        """No float array of the store holds a NaN or an infinity (they would reach every loss and gradient).
        Reads the whole store, a chunk at a time."""
        for path, name, dims, (shape, dtype, offset, fortran) in self._checked_arrays():
            bad = first_non_finite(path, shape, dtype, offset, fortran)
            if bad is not None:
                raise InputError(
                    path,
                    f"NaN or infinite values in track {name!r} (the first at index "
                    f"{list(bad)} of its {dims} = {shape} array): {_repair(path)}",
                )

    @cached_property
    def conditions(self) -> np.ndarray:
        return load_npy(self.path / self.music.conditions.file, mmap=False)
