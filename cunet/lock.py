"""One writer per run folder or store: an advisory lock that the kernel drops when its process dies.

``flock`` is released when the holder exits however it exits, SIGKILL included, so a lock is never
stale: a lock file left behind by a killed process does not block the next run. The holder's process id
is written into the file so that the refusal can name it, and only once every lock the holder needs is
taken: a shard refused its part never names itself in the store's lock, which other shards hold.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .errors import InputError
from .fileio import TEMP_MARK, host

LOCK_FILE = ".cunet.lock"


def _holder(fd: int) -> str:
    """ "N", or "N on host H" for a writer on another machine sharing the folder."""
    os.lseek(fd, 0, os.SEEK_SET)
    pid, _, where = os.read(fd, 256).decode("ascii", "replace").strip().partition(" ")
    if not pid.isdigit():
        return "unknown"
    return pid if where in ("", host()) else f"{pid} on host {where}"


def _take(path: Path, exclusive: bool, folder: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise InputError(folder, f"in use by process {holder}") from None
    except OSError as err:  # ENOLCK: a network file system without locks, most likely
        os.close(fd)
        raise InputError(
            folder,
            f"cannot be locked ({err.strerror or err}): its file system may not support "
            "locks; choose a folder on a local disk (nothing was written)",
        ) from None
    return fd


def _record(fd: int) -> None:
    """Write this process into a lock it holds (shared holders too: a whole-folder writer they block then
    names one of them)."""
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {host()}".encode())  # at 0: nothing read or wrote through this descriptor yet


def is_bookkeeping(name: str) -> bool:
    """A lock file, or a writer's hidden temporary: what a folder holds before (or besides) its contents."""
    return name.startswith(LOCK_FILE) or (name.startswith(".") and TEMP_MARK in name)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, part: str | None = None):
    """Hold ``folder`` for this process: raises InputError "in use by process N" if another holds it.

    With ``part`` (a shard's name), writers of different parts share the folder and only writers of the
    same part, or a writer of the whole folder, exclude each other.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fds = []
    try:  # a failure anywhere (a refusal, a full disk while recording) closes what was taken
        if part is None:
            fds.append(_take(folder / LOCK_FILE, True, folder))
        else:
            fds.append(_take(folder / LOCK_FILE, False, folder))
            fds.append(_take(folder / f"{LOCK_FILE}.{part}", True, folder))
        for fd in fds:
            _record(fd)
        yield
    finally:
        for fd in fds:
            os.close(fd)
