"""The one path from a command's work to its exit code: every error is one line naming the file, exit 2.

Every command's ``main`` hands its body to :func:`run_command`. Bad input (``InputError`` and
``ValueError``) and the operating system's refusals (a file that cannot be read, a folder that cannot be
written, a full disk) are reported as ``error: <file>: <problem>`` with exit 2 and no traceback; so is
anything else, said to be unexpected, with the traceback only when ``CUNET_TRACEBACK=1``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from . import outputs
from .errors import InputError

TRACEBACK_ENV = "CUNET_TRACEBACK"


def describe(err: BaseException) -> str:
    """One line for an error: the file it concerns first, where there is one."""
    if isinstance(err, InputError):
        return str(err)
    if isinstance(err, OSError):
        problem = outputs.problem(err)  # the one wording of the operating system's refusals
        names = [os.fsdecode(n) for n in (err.filename, err.filename2) if n is not None]
        return f"{' -> '.join(names)}: {problem}" if names else problem
    if isinstance(err, ValueError):
        return str(err)
    return f"unexpected {type(err).__name__}: {err} (set {TRACEBACK_ENV}=1 to see where)"


def run_command(body: Callable[[], int | None]) -> int:
    """Run a command's body; its exit code, or 2 after one line on stderr for any error."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every error becomes a message and an exit code
        if os.environ.get(TRACEBACK_ENV) == "1":
            traceback.print_exc()
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2
