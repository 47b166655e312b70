"""Reading a store written by ``python -m cunet.preprocess``: manifest, memory-mapped arrays, indexes.

Nothing is loaded whole: every array is opened with ``mmap_mode="r"`` the first time it is asked for,
so a store larger than memory trains as well as a small one.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import load_json, load_npy

FORMAT, VERSION = "cunet-store", 1


class Store:
    """A preprocessed dataset: ``Store(path).tracks``, ``.array(track_id, name)``, ``.index("train")``."""

    def __init__(self, path: str | Path, kind: str | None = None):
        self.path = Path(path)
        manifest_path = self.path / "manifest.json"
        if not manifest_path.is_file():
            hint = " (run python -m cunet.preprocess first)" if not self.path.exists() else \
                " (preprocessing did not finish: re-run it)"
            raise InputError(self.path, f"no store here: manifest.json is missing{hint}")
        self.manifest = load_json(manifest_path)
        found = (self.manifest.get("format"), self.manifest.get("version"))
        if found != (FORMAT, VERSION):
            raise InputError(manifest_path, f"store format {found} is not {(FORMAT, VERSION)}: "
                                            "re-run python -m cunet.preprocess with this version of cunet")
        if kind is not None and self.manifest.get("kind") != kind:
            raise InputError(manifest_path, f"a {self.manifest.get('kind')} store, but this needs a {kind} store")
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def tracks(self) -> list[dict]:
        return self.manifest["tracks"]

    def track_ids(self, split: str) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.tracks) if t["split"] == split], dtype=np.int64)

    def array(self, track: int, name: str, folder: str | None = None) -> np.ndarray:
        """The memory-mapped ``<name>.npy`` of a track (or of any store folder)."""
        folder = folder or self.tracks[track]["folder"]
        key = (folder, name)
        if key not in self._arrays:
            self._arrays[key] = load_npy(self.path / folder / f"{name}.npy")
        return self._arrays[key]

    def index(self, split: str) -> np.ndarray:
        meta = self.manifest["indexes"].get(split)
        if meta is None:
            raise InputError(self.path, f"no {split!r} index in this store")
        rows = load_npy(self.path / meta["file"], mmap=False)
        columns = meta["columns"]
        if rows.dtype.kind != "i" or rows.ndim != 2 or rows.shape[1] != len(columns) or len(rows) != meta["rows"]:
            raise InputError(self.path / meta["file"], f"corrupt index: expected {meta['rows']} integer rows of "
                                                      f"{columns}, found {rows.dtype} {rows.shape}")
        if len(rows) and (rows[:, 0].min() < 0 or rows[:, 0].max() >= len(self.tracks)):
            raise InputError(self.path / meta["file"], "corrupt index: track ids outside the manifest")
        return rows

    @cached_property
    def conditions(self) -> np.ndarray:
        return load_npy(self.path / self.manifest["conditions"]["file"], mmap=False)
