"""The resumable, parallel, shardable part of preprocessing, whatever a track holds.

Each track is written into a temporary folder and renamed into place with its ``track.json`` inside
it, so a folder either holds a whole track or does not exist. Beside it, ``.source.json`` records the
fingerprint of what the track was made from (parameters, and each source file's size and modification
time); a track whose fingerprint is unchanged is skipped on a re-run. That bookkeeping file is the only
one whose bytes depend on when the sources were written: everything else is a function of the sources
(besides the lock files, ``.cunet.lock*``, which hold the process id of the store's last writer).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from ..datasets.checks import printable
from ..errors import InputError
from ..fileio import atomic_dir, load_json, remove_stale_temporaries, save_json

SOURCE_RECORD = ".source.json"


@dataclasses.dataclass(frozen=True)
class TrackJob:
    """One track of a store to write, with what decides whether an earlier run's copy can be kept: its
    :meth:`source_record` (the fingerprint, and each source file's size and modification time) is saved as
    ``.source.json`` in the track's folder."""

    folder: str  # relative to the store root
    fingerprint: dict  # parameters the output depends on (JSON-able)
    sources: tuple[Path, ...]  # files the output is made from
    write: Callable[[Path], dict]  # fills a folder, returns the track's metadata; must pickle (--jobs)

    def source_record(self) -> dict:
        files = {}
        for path in self.sources:
            st = path.stat()
            files[printable(str(path))] = [st.st_size, st.st_mtime_ns]  # JSON keys: no undecodable bytes
        return {"fingerprint": self.fingerprint, "files": files}


def refuse_shared_folders(jobs: list[TrackJob], origins: list[Path]) -> None:
    """Refuse two tracks whose names map to one store folder (``origins[k]`` is where job ``k`` comes
    from): one would silently replace the other. Both are named, so the user knows what to rename."""
    seen: dict[str, Path] = {}
    for job, origin in zip(jobs, origins):
        if job.folder in seen:
            raise InputError(
                origin,
                f"maps to the same store folder {job.folder!r} as {seen[job.folder]} "
                "(folder names keep only letters, digits, '.', '_' and '-'): rename one of them",
            )
        seen[job.folder] = origin


def remove_leftovers(store: Path, jobs: list[TrackJob]) -> None:
    """Remove the temporary files and folders that killed runs left where this store is written (its
    root, indexes/ and every folder holding tracks), putting back a track folder a run was killed while
    replacing; those of live writers (other shards, which hold their temporaries' locks) stay."""
    for folder in sorted({store, store / "indexes", *((store / j.folder).parent for j in jobs)}):
        remove_stale_temporaries(folder)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``--shard i/n`` as ``(i, n)``; None where no shard is given.

    Raises:
        InputError: text not of the form i/n, or i outside [0, n).
    """
    if not text:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(None, f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise InputError(None, f"--shard {text}: need 0 <= i < n")
    return i, n


def _done(store: Path, job: TrackJob) -> dict | None:
    folder = store / job.folder
    try:
        if load_json(folder / SOURCE_RECORD) != job.source_record():
            return None
        return load_json(folder / "track.json")
    except InputError:
        return None


def _final_name(err: OSError, tmp: Path | None, final: Path) -> OSError:
    """A write that failed (a full disk) names a file in the track's temporary folder, which is removed by
    now: name the file the store would have held instead."""
    name = err.filename
    if tmp is None or not isinstance(name, str) or not name.startswith(os.fspath(tmp)):
        return err
    return OSError(err.errno, err.strerror, os.fspath(final) + name[len(os.fspath(tmp)) :])


def _execute(store: Path, job: TrackJob) -> dict:
    record = job.source_record()
    final, tmp = store / job.folder, None
    try:
        with atomic_dir(final) as tmp:
            meta = job.write(tmp)
            save_json(tmp / "track.json", meta)
            save_json(tmp / SOURCE_RECORD, record)
    except OSError as err:
        raise _final_name(err, tmp, final) from None
    return meta


def _execute_packed(args):
    return _execute(*args)


def run(
    store: Path,
    jobs: list[TrackJob],
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    desc: str = "tracks",
    progress: bool = True,
) -> dict[str, dict] | None:
    """Write every missing track of this shard; return all tracks' metadata once every shard is done."""
    mine = jobs if shard is None else [j for k, j in enumerate(jobs) if k % shard[1] == shard[0]]
    pending = [j for j in mine if _done(store, j) is None]
    bar = tqdm(total=len(mine), initial=len(mine) - len(pending), desc=desc, unit="track", disable=not progress)
    if workers > 1 and len(pending) > 1:
        with ProcessPoolExecutor(min(workers, len(pending))) as pool:
            try:
                for _ in pool.map(_execute_packed, [(store, j) for j in pending]):
                    bar.update()
            except BaseException:
                # Report the first failure now, not after every queued track has been written.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    else:
        for job in pending:
            _execute(store, job)
            bar.update()
    bar.close()
    metas = {j.folder: _done(store, j) for j in jobs}
    missing = [f for f, m in metas.items() if m is None]
    if missing:
        print(
            f"{len(missing)} of {len(jobs)} tracks belong to other shards and are not written yet; "
            "the manifest and indexes are written by the run that completes the last track"
        )
        return None
    return {f: m for f, m in metas.items() if m is not None}  # every one: none is missing
