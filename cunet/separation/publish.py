"""Putting the stems of one input in place together: a kill or a failure part-way never leaves a mix of new
stems and old (or missing) ones.

The stems are made in a hidden temporary folder of the output folder (writers.py). Once every one is ready, a
journal is written there: where each stem goes, and which file each destination held. The folder is then
renamed to a publishing name and the stems are renamed into place. A kill before that folder rename leaves a
temporary, which the clean-up of killed writers' temporaries removes: every old stem stays. A kill after it
leaves a publishing folder, and the next separation into that output folder completes the renames. The
publisher holds an ``flock`` on the journal throughout (the kernel drops it when the process dies, however it
dies): that is how the next separation tells a killed publication from one still at work. A failure while
renaming (an error, not a kill) puts the old stems back, each destination that existed having been linked
into the folder first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from pathlib import Path

from ..errors import InputError
from ..fileio import load_json, save_json
from ..outputs import WRITE_ERRORS, problem, unwritable

PUBLISHING = ".cunet-publishing-"  # hidden, and no temporary's name: the stale clean-up leaves it alone
JOURNAL = "journal.json"


def publish(staging: Path, out: Path, stems: list[tuple[str, Path]]) -> None:
    """Rename the files ``staging / name`` onto their destinations: all of them, or none.

    Args:
        staging: the hidden temporary folder in ``out`` holding the stems; it is gone after the call.
        out: the output folder; every destination lies inside it, in a folder that exists.
        stems: (file name in ``staging``, destination) pairs.
    Raises:
        InputError: a rename failed (naming its destination); every destination holds what it held before.
    """
    entries: list[dict] = []
    for i, (name, dest) in enumerate(stems):
        old = _identity(dest)
        backup = None
        if old is not None:
            backup = f"{i}.old"
            try:
                _keep(dest, staging / backup)
            except WRITE_ERRORS as err:
                raise unwritable(dest, err, "no stem of this input was written") from None
        entries.append(
            {
                "staged": name,
                "dest": str(dest.relative_to(out)),
                "ours": _identity(staging / name),
                "old": old,
                "backup": backup,
            }
        )
    save_json(staging / JOURNAL, {"stems": entries})
    lock = os.open(staging / JOURNAL, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # before the rename: no moment where the folder looks abandoned
        folder = out / f"{PUBLISHING}{secrets.token_hex(8)}"
        os.rename(staging, folder)  # from here on, the stems are published even if this process is killed
        done = 0
        try:
            for entry in entries:
                os.replace(folder / entry["staged"], out / entry["dest"])
                done += 1
        except BaseException as err:
            _roll_back(folder, out, entries[:done])
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(err, WRITE_ERRORS):
                raise unwritable(
                    out / entries[done]["dest"], err, "every stem of this input was left as it was"
                ) from None
            raise
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(lock)


def complete_killed(out: Path) -> list[Path]:
    """Complete the publications that separations killed part-way left in ``out``; those still at work (their
    journal locked) are left to their process.

    Args:
        out: an output folder.
    Returns:
        The stems put in place.
    Raises:
        InputError: a stem could not be put in place (naming it); its publication is kept for a later run.
    """
    completed: list[Path] = []
    if not out.is_dir():
        return completed
    for folder in sorted(p for p in out.iterdir() if p.name.startswith(PUBLISHING)):
        journal = folder / JOURNAL
        try:
            lock = os.open(journal, os.O_RDONLY)
        except FileNotFoundError:  # a publication that finished, its folder's removal cut short
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its publisher is alive and at work
            if not _same_file(lock, journal):
                continue  # it finished (and removed its folder) while this looked
            completed += _complete(folder, out, load_json(journal)["stems"])
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(lock)
    return completed


def _complete(folder: Path, out: Path, entries: list[dict]) -> list[Path]:
    """The renames the journal ``entries`` still lacks, done; none when a later separation has written any of
    the destinations since (its stems are newer than these)."""
    root = out.resolve()
    pending = [e for e in entries if os.path.lexists(folder / e["staged"])]
    if any(root not in (out / e["dest"]).resolve().parents for e in entries):
        return []  # not a journal this module wrote: nothing goes outside the output folder
    if any(_identity(out / e["dest"]) != (e["old"] if e in pending else e["ours"]) for e in entries):
        return []
    for entry in pending:
        dest = out / entry["dest"]
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(folder / entry["staged"], dest)
        except OSError as err:
            raise InputError(
                dest,
                f"a separation killed while putting its stems in place left this one in "
                f"{folder}, and it could not be moved there ({problem(err)})",
            ) from None
    return [out / e["dest"] for e in pending]


def _roll_back(folder: Path, out: Path, done: list[dict]) -> None:
    """Put back what the destinations of the renames ``done`` held before (best effort: this runs on a failure)."""
    for entry in reversed(done):
        with contextlib.suppress(OSError):
            if entry["backup"]:
                os.replace(folder / entry["backup"], out / entry["dest"])
            else:
                os.unlink(out / entry["dest"])


def _keep(dest: Path, backup: Path) -> None:
    """A second name for the file at ``dest`` (a copy where the file system has no hard links)."""
    try:
        os.link(dest, backup, follow_symlinks=False)
    except OSError:
        shutil.copy2(dest, backup, follow_symlinks=False)


def _identity(path: Path) -> list[int] | None:
    """The file at ``path`` (device and inode, kept by a rename), or None where there is none."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    return [status.st_dev, status.st_ino]


def _same_file(fd: int, path: Path) -> bool:
    status = os.fstat(fd)
    return _identity(path) == [status.st_dev, status.st_ino]
