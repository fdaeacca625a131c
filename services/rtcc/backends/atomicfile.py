"""Durable, all-or-nothing file writes: what the file object store is built on."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(tmp_dir: Path, target: Path, fill: Callable[[IO[bytes]], object]) -> None:
    """Write `target` through `fill(file)` so that readers see the old or the new content.

    The bytes go to a temporary file in `tmp_dir` (same filesystem as `target`), are
    fsync'ed, then renamed over `target`, whose directory is fsync'ed in turn. Raises
    NotADirectoryError, FileExistsError or IsADirectoryError when `target`'s path is
    blocked by a file or a directory.
    """
    tmp = tmp_dir / f"{uuid.uuid4().hex}.tmp"
    try:
        with tmp.open("wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(target)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
