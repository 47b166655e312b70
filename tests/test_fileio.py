"""Temporaries and locks: a writer's temporary lives exactly as long as its writer, whatever its name says;
a folder replacement killed half-way is undone; a lock file names its real holder; a lock the file system
refuses is a clear error that holds nothing."""

import errno
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from commands import dead_pid

from cunet import fileio, lock
from cunet.errors import InputError
from cunet.fileio import TEMP_MARK, atomic_dir, host, remove_stale_temporaries, temporary_prefix

# Stand-ins for a writer in another container: they import only the two modules under test.
KILLED_REPLACING = """
import os, signal, sys
from pathlib import Path
from cunet.fileio import atomic_dir
path, kill_after, calls, real = Path(sys.argv[1]), int(sys.argv[2]), [], os.replace
def replace(src, dst):
    real(src, dst)
    calls.append(dst)
    if len(calls) == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
with atomic_dir(path) as tmp:
    (tmp / "summary.md").write_text("new\\n")
    os.replace = replace  # only the renames that put the new folder in place
"""

WRITING = """
import sys
from pathlib import Path
from cunet.fileio import atomic_path, temporary_dir
folder = Path(sys.argv[1])
with temporary_dir(folder, "stems") as staged:
    with atomic_path(folder / "state.json") as tmp:
        tmp.write_text("{")
        print(staged.name, tmp.name, flush=True)
        sys.stdin.readline()
"""

HOLDING = """
import sys
from cunet.lock import folder_lock
with folder_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def holding(path: Path) -> int:
    """Hold a writer's lock on ``path`` (a file or folder), as a writer in another process would."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize("kill_after,left", [(1, "old\n"), (2, "new\n")])
def test_a_replacement_killed_between_its_renames_is_undone_by_the_next_writer(tmp_path, kill_after, left):
    path = tmp_path / "results"
    with atomic_dir(path) as tmp:
        (tmp / "summary.md").write_text("old\n")
        (tmp / "listen").mkdir()
        (tmp / "listen" / "a.wav").write_bytes(b"RIFF" * 1000)
    proc = subprocess.run([sys.executable, "-c", KILLED_REPLACING, str(path), str(kill_after)])
    assert proc.returncode == -signal.SIGKILL
    # Killed after the first: the new folder and the old one aside; after the second: the old one aside.
    assert path.exists() == (kill_after == 2) and len(hidden(tmp_path)) == 3 - kill_after
    with atomic_dir(path, clean_stale=True) as tmp:
        assert (path / "summary.md").read_text() == left  # before the next writer's block: the path is whole
        if kill_after == 1:
            assert (path / "listen" / "a.wav").read_bytes() == b"RIFF" * 1000
        (tmp / "summary.md").write_text("next\n")
    assert (path / "summary.md").read_text() == "next\n" and not (path / "listen").exists()
    assert hidden(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_temporary_lives_as_long_as_its_writer_holds_it_whatever_its_name_says(tmp_path):
    dead, other = dead_pid(), os.getppid()  # a pid nobody has, and a live process that writes nothing here
    held = [tmp_path / f"{temporary_prefix('x', dead)}a", tmp_path / f"{temporary_prefix('y', other)}b.json"]
    free = [
        tmp_path / f"{temporary_prefix('z', os.getpid())}c",  # another namespace's pid, alive here
        tmp_path / f"{temporary_prefix('w', other)}d.npy",
        tmp_path / f".v{TEMP_MARK}{dead}-e",  # the names from before the host tag
        tmp_path / f".u{TEMP_MARK}{os.getpid()}-f.json",
    ]
    kept = [tmp_path / ".notes.tmp-draft", tmp_path / f"v{TEMP_MARK}{dead}-g"]  # not a writer's temporaries
    for path in held + free + kept:
        path.write_text("{") if path.name.endswith((".json", ".npy")) else path.mkdir()
    fds = [holding(path) for path in held]
    try:
        assert sorted(remove_stale_temporaries(tmp_path)) == sorted(free)
        assert all(p.exists() for p in held + kept) and not any(os.path.lexists(p) for p in free)
    finally:
        for fd in fds:
            os.close(fd)
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(held)  # their writers are gone


def test_a_live_writers_temporaries_survive_a_clean_up_that_its_pid_cannot_tell(tmp_path):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITING, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        names = writer.stdout.readline().split()
        assert len(names) == 2 and all(f"_{writer.pid}-" in name for name in names), names
        # In another PID namespace the pid in a name is some other process's, or nobody's.
        renamed = [tmp_path / name.replace(f"_{writer.pid}-", f"_{dead_pid()}-") for name in names]
        for name, new in zip(names, renamed):
            os.rename(tmp_path / name, new)
        assert remove_stale_temporaries(tmp_path) == [] and all(p.exists() for p in renamed)
    finally:
        writer.kill()
        writer.wait()
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(renamed) and hidden(tmp_path) == []


def test_a_new_temporary_a_clean_up_took_before_its_lock_is_made_again(tmp_path, monkeypatch):
    made, mkstemp = [], fileio.tempfile.mkstemp

    def raced(*args, **kwargs):  # another run's clean-up lists the folder between creation and lock
        fd, name = mkstemp(*args, **kwargs)
        made.append(name)
        if len(made) == 1:
            assert remove_stale_temporaries(tmp_path) == [Path(name)]
        return fd, name

    monkeypatch.setattr(fileio.tempfile, "mkstemp", raced)
    fileio.save_json(tmp_path / "state.json", {"epoch": 3})
    assert len(made) == 2 and fileio.load_json(tmp_path / "state.json") == {"epoch": 3}
    assert hidden(tmp_path) == []


def test_a_refused_shard_leaves_the_lock_naming_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDING, str(tmp_path), "shard-0-of-2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(InputError, match=f"in use by process {holder.pid}$"):
            with lock.folder_lock(tmp_path, "shard-0-of-2"):
                pass
        expected = f"{holder.pid} {host()}"
        assert (tmp_path / lock.LOCK_FILE).read_text() == expected
        assert (tmp_path / f"{lock.LOCK_FILE}.shard-0-of-2").read_text() == expected
        with pytest.raises(InputError, match=f"in use by process {holder.pid}$"):  # the whole store: the shard
            with lock.folder_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("failing", [1, 2])  # the store's lock, or a shard's own after the store's was taken
def test_a_file_system_without_locks_is_a_clear_error_that_holds_nothing(tmp_path, monkeypatch, failing):
    calls, flock = [], fcntl.flock

    def no_locks(fd, operation):
        calls.append(fd)
        if len(calls) == failing:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        return flock(fd, operation)

    before = sorted(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    with pytest.raises(InputError, match="cannot be locked .No locks available.") as err:
        with lock.folder_lock(tmp_path, "shard-1-of-2"):
            pass
    assert err.value.path == str(tmp_path) and len(calls) == failing
    monkeypatch.undo()
    assert sorted(os.listdir("/proc/self/fd")) == before
    with lock.folder_lock(tmp_path):  # nothing stayed held
        pass
