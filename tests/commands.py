"""Running cunet's commands as a user does, in a fresh process, with the operating system's own refusals:
a full disk (a file-size limit: writes fail part-way with EFBIG), a file the user may not read (root's
override of file permissions dropped, so mode 000 means what it says) and a umask."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def _drop_file_permission_override() -> None:
    """Root ignores file modes through two capabilities. Dropped from the bounding set, they are gone
    from the program this process executes, so a mode-000 file is as unreadable to it as to anyone."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def refused(self, *names) -> str:
        """Asserts the command's one-line refusal (exit 2, no traceback) naming each of ``names``."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        line = [s for s in self.err.splitlines() if s.startswith("error: ")]
        assert line, self.err
        for name in names:
            assert str(name) in line[-1], (name, line[-1])
        return line[-1]


def run_module(
    module: str,
    *args,
    cwd=None,
    file_limit: int | None = None,
    umask: int | None = None,
    unprivileged: bool = False,
    timeout: float = 600,
    env: dict | None = None,
) -> Result:
    """``python -m module args`` in a new process; ``file_limit`` bytes per file (a disk that fills up),
    ``unprivileged``: file modes apply even to root."""

    def setup():
        if umask is not None:
            os.umask(umask)
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
        if unprivileged:
            _drop_file_permission_override()

    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=setup,
            errors="replace",
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        )
    except subprocess.SubprocessError as err:  # the set-up failed in the child, before the command ran
        if unprivileged and not isinstance(err, subprocess.TimeoutExpired):  # root without CAP_SETPCAP
            pytest.skip(f"cannot drop root's file-permission override here ({err})")
        raise
    return Result(done.returncode, done.stdout, done.stderr)


def dead_pid() -> int:
    """A process id no process can have (above the kernel's largest): a killed writer's, for certain."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def hidden_leftovers(folder: Path) -> list[Path]:
    """Temporary files or folders a write left behind (every temporary name is hidden)."""
    return [p for p in Path(folder).rglob(".*") if not p.name.startswith(".cunet.lock")]


def modes(folder: Path) -> dict[Path, int]:
    """Every file's and folder's permission bits below ``folder``."""
    return {p: p.stat().st_mode & 0o777 for p in Path(folder).rglob("*")}
