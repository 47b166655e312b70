"""Atomic writes and pickle-free reads: a crash never leaves a half-written artefact behind."""

from __future__ import annotations

import contextlib
import json
import errno
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
TEMP_MARK = ".tmp-"  # in every temporary name, before the writer's host and process id


def umask() -> int:
    """The process's umask, read without setting it (setting it, even for an instant, would give a file
    another thread creates meanwhile the wrong mode)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: the only other way to learn it
    os.umask(mask)
    return mask


def host() -> str:
    """This machine's name as it goes into file names (letters and digits only)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"


def temporary_prefix(name: str, pid: int | None = None) -> str:
    """The start of every temporary name for ``name``: hidden, and tagged with the host and process that
    write it, so that shards writing one shared store from several machines never take each other's work
    for a dead writer's."""
    return f".{name}{TEMP_MARK}{host()}_{os.getpid() if pid is None else pid}-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name next to ``path``; rename it onto ``path`` only if the block succeeds.

    The file gets the mode a plain ``open`` would give (0666 less the umask), not mkstemp's 0600: stores
    and stems are shared. Its name carries the writer's process id, so that a later run can tell the
    leftovers of a killed process (:func:`remove_stale_temporaries`) from another writer's work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path.stem), suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        ours = err.filename is None and (err.errno in DISK_FULL or "requested and" in str(err))
        if not (ours or err.filename is not None and os.fsdecode(err.filename) == tmp):
            raise
        # A write that fails part-way (a full disk) names no file, or the temporary one, gone by now, and
        # numpy's says only "N requested and M written": name the file being written and the likely cause.
        problem = err.strerror or f"write failed part-way ({err}; is the disk full?)"
        raise OSError(err.errno, problem, os.fspath(path)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def temporary_dir(parent: str | os.PathLike, name: str = "cunet") -> Path:
    """A new hidden folder in ``parent`` with a plain folder's mode (0777 less the umask) and the
    writer's process id in its name."""
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(name), dir=parent))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, clean_stale: bool = False):
    """Yield a temporary folder next to ``path``; rename it onto ``path`` only if the block succeeds.

    An older ``path`` is first renamed aside (itself a temporary), so that a kill at any moment leaves the
    old folder or the new one in place, never neither. ``clean_stale`` first removes a killed writer's
    temporaries of this same folder (a listing of the parent: for folders written once per command).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clean_stale:
        remove_stale_temporaries(path.parent, path.name)
    tmp = temporary_dir(path.parent, path.name)
    try:
        yield tmp
        if path.exists():
            old = temporary_dir(path.parent, path.name)
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporary files and folders that killed writers left in ``folder`` (not below it):
    those whose process id names no running process (only those for ``name``, when given). Another live
    writer's are kept."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    prefix, here = ("." if name is None else f".{name}{TEMP_MARK}"), host()
    for entry in folder.iterdir():
        if not entry.name.startswith(prefix) or TEMP_MARK not in entry.name:
            continue
        writer, _, pid = entry.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0].rpartition("_")
        if writer != here or not pid.isdigit() or _alive(int(pid)):  # another machine's, or still at work
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"{path}: refusing to store an object array (it would need pickle)")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def load_npy(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except ValueError as err:  # includes the pickle refusal and malformed headers
        raise InputError(path, f"not a readable .npy array ({err})") from None
    except OSError as err:
        raise InputError(path, f"cannot read ({err})") from None


def dump_json(obj) -> str:
    """Deterministic JSON text: sorted keys, so the same content gives the same bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def save_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(dump_json(obj))


def load_json(path: str | os.PathLike):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from None
