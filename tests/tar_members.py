"""Tars written member by member with plain tarfile, the way other tools write them (tests only)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path


def add_member(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A tar holding `members` ((name, bytes)) in that order."""
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            add_member(tf, name, data)
    return path
