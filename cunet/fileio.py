"""Atomic writes and pickle-free reads: a crash never leaves a half-written artefact behind.

Every write goes to a hidden temporary beside its target, ``.<name>.tmp-<host>_<pid>-<random>``, renamed onto
the target once whole. Its writer holds an exclusive ``flock`` on the temporary itself (the file, or the
folder) from just after creating it until it is renamed or removed; the kernel drops that lock however the
writer ends, SIGKILL included. :func:`remove_stale_temporaries` removes the temporaries whose lock it can take,
and only those: a process id would mean nothing across containers that share a host name and a volume but not
a PID namespace, so the host and pid in a name only tell a person whose it was (names from before the host
tag, ``.<name>.tmp-<pid>-<random>``, are cleaned the same way). A clean-up removes a temporary while it holds
the lock, and a writer, once it holds its lock, checks that its temporary is still there, so a clean-up that
takes a new temporary in the instant between its creation and its lock costs only a fresh name. Where the
file system refuses locks (ENOLCK), writers go on unlocked and clean-ups keep what they cannot lock.

:func:`atomic_dir` replaces an existing folder in two renames: the old folder into an "aside" temporary (its
name ends in ``.old``), then the new one into place. A writer killed between the two leaves neither at the
path; the next clean-up of that folder renames the old one back (the new one was never committed), and
removes nothing else of value.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError

DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
TEMP_MARK = ".tmp-"  # in every temporary name, before the writer's host and process id
ASIDE = ".old"  # ends the name of the temporary that holds a replaced folder until its replacement is in place
_TAG = re.compile(r"(?:[A-Za-z0-9]+_)?[0-9]+-")  # after TEMP_MARK: host_pid-, or pid- before the host tag


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
    write it (for a person reading the folder; whether its writer lives is told by its lock)."""
    return f".{name}{TEMP_MARK}{host()}_{os.getpid() if pid is None else pid}-"


def _locked(fd: int, tmp: str) -> bool:
    """Take a new temporary's writer lock: False if a clean-up held it first (and so removes it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # no locks on this file system: clean-ups cannot take one either, and keep it
        return True
    return os.path.lexists(tmp)


def _new_temporary(parent: Path, name: str, suffix: str = "", folder: bool = False) -> tuple[Path, int]:
    """A new temporary file or folder for ``name`` in ``parent``, with a plain one's mode (0666 or 0777 less
    the umask, not mkstemp's 0600), locked by this process: (its path, the descriptor holding the lock)."""
    while True:
        if folder:
            tmp = tempfile.mkdtemp(suffix, temporary_prefix(name), parent)
            fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        else:
            fd, tmp = tempfile.mkstemp(suffix, temporary_prefix(name), parent)
        if _locked(fd, tmp):
            os.fchmod(fd, (0o777 if folder else 0o666) & ~umask())
            return Path(tmp), fd
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name next to ``path``; rename it onto ``path`` only if the block succeeds.

    The file gets the mode a plain ``open`` would give (0666 less the umask): stores and stems are shared.
    It is locked by this process until the block ends, so that a later run removes it only if this one was
    killed (:func:`remove_stale_temporaries`). The lock is the file's own, so the block writes into the file
    in place (opens it by name) and never replaces it or locks it itself (HDF5 would: h5py's ``locking=False``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary, fd = _new_temporary(path.parent, path.stem, path.suffix)
    tmp = os.fspath(temporary)
    try:
        yield temporary
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
        try:
            if os.path.exists(tmp):
                os.remove(tmp)
        finally:
            os.close(fd)  # only once it is gone: a clean-up never sees it unlocked


@contextlib.contextmanager
def temporary_dir(parent: str | os.PathLike, name: str = "cunet"):
    """Yield a new hidden folder in ``parent`` for ``name``, with a plain folder's mode (0777 less the umask),
    locked by this process until the block ends (a later run removes it only once this one is dead).

    The block may rename the folder away (its lock goes with it); whatever is still at its name when the
    block ends is removed, before the lock is let go.

    Args:
        parent: the folder to make it in (which must exist).
        name: what it is the temporary of (the start of its name).
    Yields:
        The folder's path.
    """
    tmp, fd = _new_temporary(Path(parent), name, folder=True)
    try:
        yield tmp
    finally:
        try:
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, clean_stale: bool = False):
    """Yield a temporary folder next to ``path``; rename it onto ``path`` only if the block succeeds.

    An older ``path`` is first renamed aside (into a temporary ending in ``.old``), then the new folder onto
    ``path``; a kill between the two leaves the old folder aside, and the next clean-up of the parent renames
    it back. ``clean_stale`` first removes (or restores) a killed writer's temporaries of this same folder (a
    listing of the parent: for folders written once per command).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clean_stale:
        remove_stale_temporaries(path.parent, path.name)
    tmp, fd = _new_temporary(path.parent, path.name, folder=True)
    try:
        yield tmp
        if os.path.lexists(path):
            old, old_fd = _new_temporary(path.parent, path.name, ASIDE, folder=True)
            try:
                os.replace(path, old / path.name)
                try:
                    os.replace(tmp, path)
                except BaseException:
                    os.replace(old / path.name, path)
                    raise
                shutil.rmtree(old)
            finally:
                os.close(old_fd)
        else:
            os.replace(tmp, path)
    finally:
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
        finally:
            os.close(fd)


def _restore_aside(aside: Path) -> bool:
    """Rename the folder a killed :func:`atomic_dir` had moved aside back to its name, unless its
    replacement got there. Returns whether ``aside`` may go (False: the old folder is still only there)."""
    target = aside.parent / aside.name.rpartition(TEMP_MARK)[0][1:]
    if os.path.lexists(target) or not os.path.lexists(aside / target.name):
        return True
    try:
        os.replace(aside / target.name, target)
    except OSError:
        return os.path.lexists(target)
    return True


def _remove_if_dead(entry: Path) -> bool:
    """Remove the temporary ``entry`` if no writer holds its lock; returns whether it did."""
    try:  # O_NONBLOCK: a fifo by that name must not hang the clean-up
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # a link, gone, or another user's: nothing tells whether its writer lives
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            here = os.path.samestat(os.fstat(fd), os.lstat(entry))
        except OSError:  # its writer holds it, the file system has no locks, or the writer renamed it
            return False
        if not here:
            return False
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            entry.unlink(missing_ok=True)
        elif not entry.name.endswith(ASIDE) or _restore_aside(entry):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            return False
        return True
    finally:
        os.close(fd)  # only after the removal: a writer that finds its new temporary gone makes another


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporary files and folders that killed writers left in ``folder`` (not below it).

    A temporary is a killed writer's when no process holds its lock (see the module's docstring); a live
    writer's is kept, whatever host or process its name gives. A folder that a killed :func:`atomic_dir`
    had moved aside is first renamed back where its replacement never arrived.

    Args:
        folder: where to look.
        name: only the temporaries of this file or folder name, when given.
    Returns:
        The temporaries removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    prefix = "." if name is None else f".{name}{TEMP_MARK}"
    for entry in folder.iterdir():
        tag = entry.name.rpartition(TEMP_MARK)[2]
        if entry.name.startswith(prefix) and TEMP_MARK in entry.name and _TAG.match(tag):
            if _remove_if_dead(entry):
                removed.append(entry)
    return removed


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as .npy, atomically and without pickle.

    Raises:
        TypeError: for an object array, which only pickle could store.
    """
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"{path}: refusing to store an object array (it would need pickle)")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def load_npy(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Read a .npy array without pickle, memory-mapped read-only unless ``mmap`` is False.

    Raises:
        InputError: the file is missing, unreadable, not a .npy array, or one that would need pickle.
    """
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
    """Write ``obj`` to ``path`` as :func:`dump_json` text, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(dump_json(obj))


def load_json(path: str | os.PathLike):
    """Read a JSON file.

    Raises:
        InputError: the file is missing, or is not valid JSON text.
    """
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from None
