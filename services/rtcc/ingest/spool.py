"""The local spool: closed segments wait here, durably, until they are stored and indexed.

Layout: ``<root>/<camera_id>/<stream>/<start-epoch-ms>.mp4`` and, beside it, the
segment's description ``<start-epoch-ms>.json``. The JSON is written last (fsynced,
then renamed into place), so its presence is what marks a segment complete; a
``.part`` file is a segment still being written (recovery.py keeps the whole fragments
of one left by a killed process). Blocking file I/O: call from threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rtcc.ingest.segment import ClosedSegment, epoch_ms


@dataclass(frozen=True, slots=True)
class SpooledSegment:
    """A complete segment in the spool."""

    segment: ClosedSegment
    media: Path
    description: Path


class Spool:
    """A bounded directory of segments awaiting upload, drained oldest first per stream."""

    def __init__(self, root: Path, max_bytes: int = 2 << 30) -> None:
        self.root, self.max_bytes = root, max_bytes
        root.mkdir(parents=True, exist_ok=True)

    def stream_dir(self, camera_id: str, stream: int) -> Path:
        folder = self.root / camera_id / str(stream)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def part_path(self, camera_id: str, stream: int, start_ms: int) -> Path:
        """Where a segment being recorded is written."""
        return self.stream_dir(camera_id, stream) / f"{start_ms}.mp4.part"

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.mp4*") if p.is_file())

    def has_room(self) -> bool:
        return self.used_bytes() < self.max_bytes

    def commit(self, part: Path, segment: ClosedSegment) -> SpooledSegment:
        """Turn a finished `.part` file into a complete spooled segment (durably)."""
        folder = part.parent
        stem = str(epoch_ms(segment.start_time))
        media, description = folder / f"{stem}.mp4", folder / f"{stem}.json"
        os.replace(part, media)
        tmp = folder / f"{stem}.json.tmp"
        with tmp.open("w") as handle:
            handle.write(segment.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, description)
        _fsync_dir(folder)
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
                segment = ClosedSegment.from_json(description.read_text())
            except (ValueError, TypeError, KeyError):
                # A description no process can read (torn by a disk fault) would stop
                # the drain on every pass: set it aside, next to its media, for a person.
                os.replace(description, description.with_suffix(".json.bad"))
                continue
            found.append(SpooledSegment(segment, media, description))
        return found

    def remove(self, item: SpooledSegment) -> None:
        """Forget a segment once stored and indexed: media first, description last."""
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
