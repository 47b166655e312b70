"""The folder lock: one writer, shards side by side, the holder named, nothing held after a failure."""

import os

import pytest

from cunet import lock
from cunet.errors import InputError
from cunet.fileio import host


def test_a_second_writer_is_refused_naming_the_holder_and_shards_coexist(tmp_path):
    with lock.folder_lock(tmp_path):
        with pytest.raises(InputError, match=f"in use by process {os.getpid()}$"):
            with lock.folder_lock(tmp_path):
                pass
        with pytest.raises(InputError, match="in use by process"):
            with lock.folder_lock(tmp_path, "shard-0-of-2"):
                pass
    with lock.folder_lock(tmp_path, "shard-0-of-2"), lock.folder_lock(tmp_path, "shard-1-of-2"):
        with pytest.raises(InputError, match="in use by process"):
            with lock.folder_lock(tmp_path, "shard-1-of-2"):
                pass
    assert (tmp_path / lock.LOCK_FILE).read_text() == f"{os.getpid()} {host()}"


def test_a_holder_on_another_machine_is_named_with_its_host(tmp_path):
    with lock.folder_lock(tmp_path):
        (tmp_path / lock.LOCK_FILE).write_text("4242 farawayhost")
        with pytest.raises(InputError, match="in use by process 4242 on host farawayhost"):
            with lock.folder_lock(tmp_path):
                pass


def test_a_lock_whose_holder_could_not_be_written_is_not_kept(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lock.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        with lock.folder_lock(tmp_path):
            pass
    monkeypatch.undo()
    with lock.folder_lock(tmp_path):  # would be refused if the failed attempt still held it
        pass
