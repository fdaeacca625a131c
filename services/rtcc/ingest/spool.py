"""The local spool: closed segments wait here, durably, until they are stored and indexed.

Layout: ``<root>/<camera_id>/<stream>/<start-epoch-ms>.mp4`` and, beside it, the
segment's description ``<start-epoch-ms>.json``. The JSON is written last (fsynced,
then renamed into place), so its presence is what marks a segment complete; a
``.part`` file is a segment still being written (recovery.py keeps the whole fragments
of one left by a killed process). Blocking file I/O: call from threads.

A full disk: the spool has room while it holds under ``max_bytes`` (measured at most
once a second) and its filesystem has more than ``reserve_bytes`` free (statvfs; by
default a tenth of the filesystem, at most 64 MiB), so a camera session stops opening
segments (at a keyframe, cleanly) before the disk is full, and the segment in progress
still has room to be closed and described. When something else fills the disk to the
last byte, a write fails with ENOSPC: that segment is dropped whole (it never was
spooled), and nothing spooled is touched. Recording resumes by itself at the first
keyframe after space returns, in a segment marked as following a gap (the hole in the
index).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from rtcc.ingest.segment import ClosedSegment, epoch_ms

log = structlog.get_logger("rtcc.ingest.spool")
MAX_RESERVE_BYTES = 64 << 20
# How stale the spool's measured size may be when a session asks for room.
USED_RECHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class SpooledSegment:
    """A complete segment in the spool."""

    segment: ClosedSegment
    media: Path
    description: Path


class Spool:
    """A bounded directory of segments awaiting upload, drained oldest first per stream."""

    def __init__(
        self, root: Path, max_bytes: int = 2 << 30, reserve_bytes: int | None = None
    ) -> None:
        self.root, self.max_bytes = root, max_bytes
        root.mkdir(parents=True, exist_ok=True)
        if reserve_bytes is None:
            fs = os.statvfs(root)
            reserve_bytes = min(MAX_RESERVE_BYTES, fs.f_blocks * fs.f_frsize // 10)
        self.reserve_bytes = reserve_bytes
        # Why the spool has no room ("" while it has): logged once per change.
        self.full_reason = ""
        self._full_kind = ""
        self._full_lock = threading.Lock()
        self._used, self._used_at = 0, -USED_RECHECK_S  # the last measure, and when
        # Parsed descriptions by path, with the (inode, mtime, size) they were read at.
        self._described: dict[Path, tuple[tuple[int, int, int], ClosedSegment]] = {}

    def stream_dir(self, camera_id: str, stream: int) -> Path:
        folder = self.root / camera_id / str(stream)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def part_path(self, camera_id: str, stream: int, start_ms: int) -> Path:
        """Where a segment being recorded is written."""
        return self.stream_dir(camera_id, stream) / f"{start_ms}.mp4.part"

    def used_bytes(self) -> int:
        """Bytes of media in the spool. Other cameras' sessions and the uploader create
        and remove files meanwhile: one that vanishes between listing and stat counts 0
        (it used to raise FileNotFoundError into the session that asked, a disconnect)."""
        total = 0
        folders = [str(self.root)]
        while folders:
            try:
                listing = os.scandir(folders.pop())
            except (FileNotFoundError, NotADirectoryError):
                continue  # a camera's folder removed meanwhile
            with listing:
                for entry in listing:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif ".mp4" in entry.name:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        if stat.S_ISREG(st.st_mode):
                            total += st.st_size
        return total

    def _used_recently(self) -> int:
        """`used_bytes`, measured at most every `USED_RECHECK_S`: every session asks at
        every segment, and a listing of the whole spool each time grows with the square
        of the cameras (the free-space check is always fresh)."""
        now = time.monotonic()
        with self._full_lock:
            if now - self._used_at < USED_RECHECK_S:
                return self._used
        used = self.used_bytes()
        with self._full_lock:
            self._used, self._used_at = used, now
        return used

    def free_bytes(self) -> int:
        """Bytes free on the spool's filesystem for this process."""
        fs = os.statvfs(self.root)
        return fs.f_bavail * fs.f_frsize

    def has_room(self) -> bool:
        """Room for a new segment (called by each session at each segment it opens)."""
        kind = reason = ""
        try:
            free = self.free_bytes()
        except OSError as exc:
            kind, reason = "unreadable", f"the spool's filesystem cannot be read: {exc}"
        else:
            if free < self.reserve_bytes:
                kind = "disk"
                reason = f"the spool's disk is full ({free} bytes free, {self.reserve_bytes} kept)"
        if not kind and self._used_recently() >= self.max_bytes:
            kind, reason = "limit", f"the spool holds its limit of {self.max_bytes} bytes"
        with self._full_lock:
            changed, self._full_kind, self.full_reason = kind != self._full_kind, kind, reason
        if changed and kind:
            log.error("spool_full", reason=reason, root=str(self.root))
        elif changed:
            log.info("spool_has_room_again", root=str(self.root))
        return not kind

    def commit(self, part: Path, segment: ClosedSegment) -> SpooledSegment:
        """Turn a finished `.part` file into a complete spooled segment (durably)."""
        folder = part.parent
        stem = str(epoch_ms(segment.start_time))
        media, description = folder / f"{stem}.mp4", folder / f"{stem}.json"
        # Final from now on: read-only, which lets the file object store link it.
        os.chmod(part, 0o444)
        os.replace(part, media)
        tmp = folder / f"{stem}.json.tmp"
        try:
            with tmp.open("w") as handle:
                handle.write(segment.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, description)
            _fsync_dir(folder)
        except OSError:
            # No room for its description (ENOSPC): the segment was never spooled;
            # drop it whole rather than leave media no drain would ever see.
            tmp.unlink(missing_ok=True)
            if not description.exists():
                media.unlink(missing_ok=True)
            raise
        return SpooledSegment(segment, media, description)

    def pending(self) -> list[SpooledSegment]:
        """Every complete segment, oldest first within each camera stream."""
        found: list[SpooledSegment] = []
        for description in sorted(self.root.glob("*/*/*.json"), key=_order):
            media = description.with_suffix(".mp4")
            if not media.exists():
                description.unlink(missing_ok=True)  # media already removed: finish cleanup
                continue
            try:
                segment = self._describe(description)
            except (ValueError, TypeError, KeyError):
                # A description no process can read (torn by a disk fault) would stop
                # the drain on every pass: set it aside, next to its media, for a person.
                os.replace(description, description.with_suffix(".json.bad"))
                continue
            found.append(SpooledSegment(segment, media, description))
        seen = {item.description for item in found}
        self._described = {k: v for k, v in self._described.items() if k in seen}
        return found

    def _describe(self, description: Path) -> ClosedSegment:
        """The segment a description holds; read again only when the file changed."""
        st = description.stat()
        mark = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._described.get(description)
        if cached is not None and cached[0] == mark:
            return cached[1]
        segment = ClosedSegment.from_json(description.read_text())
        self._described[description] = (mark, segment)
        return segment

    def remove(self, *items: SpooledSegment) -> None:
        """Forget segments once stored and indexed: each one's media first, description last."""
        for item in items:
            item.media.unlink(missing_ok=True)
            item.description.unlink(missing_ok=True)


def _order(path: Path) -> tuple[str, str, int]:
    return (path.parent.parent.name, path.parent.name, int(path.stem))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
