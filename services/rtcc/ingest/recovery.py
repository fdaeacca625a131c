"""Recover the segments a killed recorder was writing, up to their last whole fragment.

A segment is written as fragmented MP4 (``ftyp``, an empty ``moov``, then one
``moof`` + ``mdat`` pair per keyframe interval), and each fragment reaches the kernel
as soon as it is finished (writer.py). After ``kill -9`` (or a crash) the spool holds
``.part`` files whose every fragment but the last is whole. On start, before the
uploader runs, each ``.part`` file is cut after its last whole fragment, described
(from the ``-meta`` file written when the segment was opened, and from the frames
that remain) and committed to the spool like any closed segment. A file without a
whole fragment is deleted. Blocking file I/O and PyAV: call from a thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import av
import structlog

from rtcc.ingest.segment import ClosedSegment, segment_id
from rtcc.ingest.spool import Spool
from rtcc.ingest.writer import meta_path

log = structlog.get_logger("rtcc.ingest.recovery")


@dataclasses.dataclass(frozen=True, slots=True)
class Recovered:
    """What start-up found in the spool."""

    recovered: list[ClosedSegment]
    discarded: int


def whole_fragments_end(path: Path) -> int:
    """Bytes of `path` up to the end of its last whole ``moof`` + ``mdat`` (0: none)."""
    total = path.stat().st_size
    good = pos = 0
    saw_moov = in_fragment = False
    with path.open("rb") as handle:
        while pos + 8 <= total:
            handle.seek(pos)
            size, kind = struct.unpack(">I4s", handle.read(8))
            header = 8
            if size == 1:  # 64-bit size follows
                large = handle.read(8)
                if len(large) < 8:
                    break
                size, header = struct.unpack(">Q", large)[0], 16
            if size < header or pos + size > total:
                break  # size 0 ("to the end") or a box cut short: the writer died here
            if kind == b"moov":
                saw_moov = True
            elif kind == b"moof":
                in_fragment = True
            elif kind == b"mdat" and in_fragment:
                in_fragment, good = False, pos + size
            pos += size
    return good if saw_moov else 0


def recover_partials(spool: Spool) -> Recovered:
    """Commit the whole fragments of every `.part` file in `spool`; delete the rest."""
    recovered: list[ClosedSegment] = []
    discarded = 0
    for part in sorted(spool.root.glob("*/*/*.part")):
        segment = None
        try:
            segment = _recover(part, _meta(part))
        except (OSError, ValueError, av.FFmpegError) as exc:
            log.warning("partial_segment_unreadable", path=part.name, error=str(exc)[:200])
        if segment is None:
            part.unlink(missing_ok=True)
            discarded += 1
        else:
            spool.commit(part, segment)
            recovered.append(segment)
            log.info(
                "partial_segment_recovered", camera_id=segment.camera_id,
                seconds=round((segment.end_time - segment.start_time).total_seconds(), 3),
            )  # fmt: skip
        meta_path(part).unlink(missing_ok=True)
    for orphan in spool.root.glob("*/*/*.part-meta"):
        orphan.unlink(missing_ok=True)
    return Recovered(recovered, discarded)


def _meta(part: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(meta_path(part).read_text())
        return data
    except (OSError, ValueError):
        # No description: the folders and the file name still say whose it is.
        start_ms = int(part.name.split(".", 1)[0])
        return {
            "camera_id": part.parent.parent.name,
            "stream": int(part.parent.name),
            "start_time": dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).isoformat(),
            "discontinuity": True,
            "event_only": False,
        }


def _recover(part: Path, meta: dict[str, Any]) -> ClosedSegment | None:
    end = whole_fragments_end(part)
    if end == 0:
        return None
    os.truncate(part, end)
    frames, first, last_end, codec, width, height = 0, None, 0, "h264", 0, 0
    with av.open(str(part)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name or "h264"
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        tb = float(stream.time_base or 0) or 1 / 90000
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            frames += 1
            first = packet.pts if first is None else min(first, packet.pts)
            last_end = max(last_end, packet.pts + (packet.duration or 0))
    if frames == 0 or first is None:
        return None
    digest = hashlib.sha256()
    with part.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
        os.fsync(handle.fileno())
    start = dt.datetime.fromisoformat(meta["start_time"])
    seconds = max((last_end - first) * tb, 1e-3)
    camera_id, stream_no = str(meta["camera_id"]), int(meta["stream"])
    return ClosedSegment(
        id=segment_id(camera_id, stream_no, start),
        camera_id=camera_id,
        stream=stream_no,
        start_time=start,
        end_time=start + dt.timedelta(seconds=seconds),
        size_bytes=end,
        sha256=digest.hexdigest(),
        video_codec=codec,
        width=width,
        height=height,
        frame_rate=round(frames / seconds, 3),
        frames=frames,
        discontinuity=bool(meta.get("discontinuity", True)),
        event_only=bool(meta.get("event_only", False)),
    )
