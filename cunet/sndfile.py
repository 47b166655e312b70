"""What libsndfile (through soundfile) does not do for cunet: notice a truncated wav, and open a file whose
name is not valid UTF-8."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from .errors import InputError


def check_wav_complete(path: Path) -> None:
    """libsndfile reads a truncated wav without complaint: compare the declared data size with the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE (RF64, W64...): leave it to libsndfile
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                held = size - offset - 8
                if chunk_size != 0xFFFFFFFF and chunk_size > held:
                    raise InputError(
                        path, f"truncated wav: the header declares {chunk_size} bytes of audio, the file holds {held}"
                    )
                return
            offset += 8 + chunk_size + (chunk_size & 1)
    raise InputError(path, "wav file has no data chunk")


def sf_name(path: str | os.PathLike) -> str | bytes:
    """The name to hand soundfile: it encodes a str strictly as UTF-8, which fails for a file name holding
    bytes that are not UTF-8 (Python keeps them as surrogates); those go as the file name's own bytes."""
    name = os.fspath(path)
    if isinstance(name, bytes):
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name
