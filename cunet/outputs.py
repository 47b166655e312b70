"""Where a command writes: checked before any work, and failures while writing named by that output.

A command that scores, exports or separates for minutes should not find out at the end that its output
folder is a file or may not be written into; :func:`check_output_folder` says so first. What only the
writing itself can find out (a full disk) is reported by :func:`writing` against the output the user
named, not against the hidden temporary name the operating system saw.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import soundfile as sf

from .errors import InputError

# libsndfile reports a write the disk refused as its own error ("System error."), not as an OSError.
WRITE_ERRORS = (OSError, sf.LibsndfileError)


def check_output_folder(
    out: str | os.PathLike, option: str, beside: bool = False, marker: str | None = None, kind: str = ""
) -> None:
    """Refuse, naming the path, an output folder that cannot be made or written into.

    Args:
        out: the folder.
        option: the command-line option that names it, for the message (``-o``, ``--out``).
        beside: the folder is written whole beside itself (a temporary folder in its parent, then a rename),
            so its parent must be writable even when it exists.
        marker: a file every folder of this ``kind`` holds: a non-empty folder without it is someone
            else's, and is refused rather than replaced.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(out, f"is a file, not a folder: choose another {option} (nothing was written)")
    existing = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        raise InputError(
            existing, f"is a file, so the output folder {out} cannot be made below it (nothing was written)"
        )
    into = out.parent if existing == out and beside else existing
    if not os.access(into, os.W_OK | os.X_OK):
        raise InputError(
            into,
            f"may not be written into (permission denied), so the output folder {out} "
            f"cannot be written: choose another {option} (nothing was written)",
        )
    if marker is not None and out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise InputError(out, f"exists and is not {kind}: choose another {option} (nothing was written)")


def problem(err: BaseException) -> str:
    """The operating system's (or libsndfile's) complaint, without the temporary name it was about."""
    if isinstance(err, sf.LibsndfileError):  # it knows no errno: the usual cause of a failed write is a full disk
        return f"libsndfile: {err.error_string.rstrip('.')}; is the disk full?"
    what = getattr(err, "strerror", None) or str(err) or type(err).__name__
    if getattr(err, "errno", None) == errno.EFBIG:  # a file-size limit, or a disk that is full
        return f"{what}; is the disk full?"
    return what


def unwritable(name: str | os.PathLike, err: BaseException, done: str = "nothing was written") -> InputError:
    """The one refusal for a write that failed: ``name`` is the output the user knows, ``done`` what is left."""
    return InputError(name, f"could not be written ({problem(err)}); {done}")


@contextlib.contextmanager
def writing(out: str | os.PathLike):
    """Report the refusals of the operating system (and libsndfile) inside the block as one error naming
    ``out``: every write in the block goes to a temporary name first, which is removed and would mean
    nothing to the user."""
    try:
        yield
    except WRITE_ERRORS as err:
        raise unwritable(out, err) from None
