"""Read a growing fragmented-MP4 file: its track, and the samples of each fragment (pure).

The ffmpeg recording engine (ffmpeg_engine.py) has a native child write each segment
as fragmented MP4 (``ftyp``, an empty ``moov``, then ``moof`` + ``mdat`` pairs). This
module reads what such a file holds so far without a demuxer: the codec and its
parameter sets from the ``moov``, and per fragment the samples' decode times,
durations, sizes and sync flags from ``tfhd``/``tfdt``/``trun``. Only the box layout
FFmpeg's mp4 muxer writes with ``default_base_moof`` is supported (one video track).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

_NON_SYNC = 0x10000  # sample_is_non_sync_sample in ISO BMFF sample flags


@dataclass(frozen=True, slots=True)
class Track:
    """The video track of a segment, from its ``moov``."""

    codec: str  # FFmpeg's codec name: h264 or hevc
    timescale: int
    width: int
    height: int
    # Parameter sets in Annex B form (start codes), as an RTSP demuxer reports them.
    extradata: bytes
    nal_length_size: int = 4


@dataclass(frozen=True, slots=True)
class Sample:
    dts: int  # in the track's timescale, from the segment's start
    pts: int
    duration: int
    keyframe: bool
    offset: int  # absolute file offset of the sample's data
    size: int


@dataclass(slots=True)
class Fragment:
    # Each sample; empty when the fragment was only counted (nobody watches).
    samples: list[Sample] = field(default_factory=list)
    count: int = 0  # samples
    size: int = 0  # their bytes
    start: int = 0  # the decode time of its first sample
    end: int = 0  # the decode time just after its last


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the complete boxes in data[start:end]."""
    end = len(data) if end is None else end
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        if size < header or pos + size > end:
            break
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _path(data: bytes, start: int, end: int, *kinds: bytes) -> tuple[int, int] | None:
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        if span is None:
            return None
        span = _child(data, span[0], span[1], kind)
    return span


def parse_moov(data: bytes, start: int, end: int) -> Track | None:
    """The video track of a ``moov`` payload, or None if it has none we can read."""
    for kind, s, e in boxes(data, start, end):
        if kind != b"trak":
            continue
        hdlr = _path(data, s, e, b"mdia", b"hdlr")
        if hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        mdhd = _path(data, s, e, b"mdia", b"mdhd")
        stsd = _path(data, s, e, b"mdia", b"minf", b"stbl", b"stsd")
        if mdhd is None or stsd is None:
            return None
        version = data[mdhd[0]]
        timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))[0]
        entries = boxes(data, stsd[0] + 8, stsd[1])
        if not entries:
            return None
        entry, es, ee = entries[0]
        width, height = struct.unpack_from(">HH", data, es + 24)
        config = boxes(data, es + 78, ee)
        if entry in (b"avc1", b"avc3"):
            avcc = next(((s2, e2) for k, s2, e2 in config if k == b"avcC"), None)
            extradata, nal = _avcc_to_annexb(data, *avcc) if avcc else (b"", 4)
            return Track("h264", timescale, width, height, extradata, nal)
        if entry in (b"hvc1", b"hev1"):
            hvcc = next(((s2, e2) for k, s2, e2 in config if k == b"hvcC"), None)
            extradata, nal = _hvcc_to_annexb(data, *hvcc) if hvcc else (b"", 4)
            return Track("hevc", timescale, width, height, extradata, nal)
        return None
    return None


START = b"\x00\x00\x00\x01"


def _avcc_to_annexb(data: bytes, start: int, end: int) -> tuple[bytes, int]:
    nal_size = (data[start + 4] & 3) + 1
    out, pos = bytearray(), start + 5
    for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count
        if pos >= end:
            break
        count, pos = data[pos] & count_mask, pos + 1
        for _ in range(count):
            (length,) = struct.unpack_from(">H", data, pos)
            out += START + data[pos + 2 : pos + 2 + length]
            pos += 2 + length
    return bytes(out), nal_size


def _hvcc_to_annexb(data: bytes, start: int, end: int) -> tuple[bytes, int]:
    nal_size = (data[start + 21] & 3) + 1
    out, pos = bytearray(), start + 23
    arrays = data[start + 22]
    for _ in range(arrays):
        count = struct.unpack_from(">H", data, pos + 1)[0]
        pos += 3
        for _ in range(count):
            (length,) = struct.unpack_from(">H", data, pos)
            out += START + data[pos + 2 : pos + 2 + length]
            pos += 2 + length
    return bytes(out), nal_size


def parse_moof(
    data: bytes, start: int, end: int, moof_offset: int, defaults: Defaults, samples: bool = True
) -> Fragment:
    """The samples of one ``moof`` payload (data[start:end]); offsets are absolute,
    with `moof_offset` the file offset of the box itself (default-base-is-moof). Without
    `samples`, only the fragment's totals are filled in."""
    fragment = Fragment()
    for kind, s, e in boxes(data, start, end):
        if kind != b"traf":
            continue
        base_time = 0
        duration, size, flags = defaults.duration, defaults.size, defaults.flags
        base = moof_offset
        for k, bs, _be in boxes(data, s, e):
            if k == b"tfhd":
                tf_flags = struct.unpack_from(">I", data, bs)[0] & 0xFFFFFF
                pos = bs + 8
                if tf_flags & 0x1:
                    base = struct.unpack_from(">Q", data, pos)[0]
                    pos += 8
                if tf_flags & 0x2:
                    pos += 4
                if tf_flags & 0x8:
                    duration = struct.unpack_from(">I", data, pos)[0]
                    pos += 4
                if tf_flags & 0x10:
                    size = struct.unpack_from(">I", data, pos)[0]
                    pos += 4
                if tf_flags & 0x20:
                    flags = struct.unpack_from(">I", data, pos)[0]
            elif k == b"tfdt":
                if data[bs] == 1:
                    base_time = struct.unpack_from(">Q", data, bs + 4)[0]
                else:
                    base_time = struct.unpack_from(">I", data, bs + 4)[0]
            elif k == b"trun":
                if not fragment.count:
                    fragment.start = base_time
                base_time = _trun(
                    data, bs, fragment, base, base_time, duration, size, flags, samples
                )
                fragment.end = base_time
    return fragment


def _trun(
    data: bytes,
    pos: int,
    fragment: Fragment,
    base: int,
    dts: int,
    duration: int,
    size: int,
    flags: int,
    samples: bool,
) -> int:
    """Adds a ``trun``'s samples to `fragment`; returns the decode time after them."""
    version_flags, count = struct.unpack_from(">II", data, pos)
    version, tr_flags = version_flags >> 24, version_flags & 0xFFFFFF
    pos += 8
    offset = base
    if tr_flags & 0x1:
        offset = base + struct.unpack_from(">i", data, pos)[0]
        pos += 4
    first_flags = None
    if tr_flags & 0x4:
        first_flags = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if tr_flags & bit]
    width = len(fields)
    values = struct.unpack_from(f">{width * count}I", data, pos)
    # Per field present, its column (every sample's value); absent ones take defaults.
    column = {bit: values[j::width] for j, bit in enumerate(fields)}
    durations = column.get(0x100) or (duration,) * count
    sizes = column.get(0x200) or (size,) * count
    fragment.count += count
    fragment.size += sum(sizes)
    if not samples:
        return dts + sum(durations)
    sample_flags = column.get(0x400) or (flags,) * count
    if first_flags is not None and 0x400 not in column and count:
        sample_flags = (first_flags, *sample_flags[1:])
    offsets = column.get(0x800) or (0,) * count
    found = fragment.samples
    for i in range(count):
        d, n, f, cto = durations[i], sizes[i], sample_flags[i], offsets[i]
        if version == 1 and cto >= 1 << 31:
            cto -= 1 << 32
        found.append(Sample(dts, dts + cto, d, not f & _NON_SYNC, offset, n))
        dts += d
        offset += n
    return dts


@dataclass(frozen=True, slots=True)
class Defaults:
    """Per-sample defaults of the track (``mvex``/``trex``)."""

    duration: int = 0
    size: int = 0
    flags: int = 0


def parse_trex(data: bytes, start: int, end: int) -> Defaults:
    trex = _path(data, start, end, b"mvex", b"trex")
    if trex is None:
        return Defaults()
    duration, size, flags = struct.unpack_from(">III", data, trex[0] + 12)
    return Defaults(duration, size, flags)


def to_annexb(sample: bytes, nal_length_size: int) -> bytes:
    """Length-prefixed NAL units (MP4) as start-code-prefixed ones (RTSP/Annex B)."""
    out, pos, total = bytearray(), 0, len(sample)
    while pos + nal_length_size <= total:
        length = int.from_bytes(sample[pos : pos + nal_length_size], "big")
        pos += nal_length_size
        out += START + sample[pos : pos + length]
        pos += length
    return bytes(out)


class FragmentReader:
    """Follows one growing segment file: call `poll()` to get the fragments finished
    since the last call. Reads box headers and ``moof`` boxes; each sample, and its
    data, only when `want_data` is set (somebody watches), else the fragments' totals."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.track: Track | None = None
        self.defaults = Defaults()
        self.pos = 0
        self.frames = 0
        self.bytes = 0
        self.end = 0  # decode time after the last sample seen
        self._fd: int | None = None

    @property
    def opened(self) -> bool:
        """Whether the file exists yet (the writer has started it)."""
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def poll(self, want_data: bool) -> list[tuple[Fragment, bytes | None, int]]:
        """[(fragment, the bytes of its mdat or None, mdat's file offset)]."""
        out: list[tuple[Fragment, bytes | None, int]] = []
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return out
        fd = self._fd
        total = os.fstat(fd).st_size
        pos = self.pos
        moof: Fragment | None = None
        moof_pos = pos
        while pos + 8 <= total:
            head = os.pread(fd, 16, pos)
            size, kind = struct.unpack_from(">I4s", head)
            header = 8
            if size == 1 and len(head) == 16:
                size, header = struct.unpack_from(">Q", head, 8)[0], 16
            if size < header or pos + size > total:
                break  # being written
            if kind == b"mdat":
                if moof is not None:
                    body = os.pread(fd, size - header, pos + header) if want_data else None
                    out.append((moof, body, pos + header))
                    self._count(moof)
                moof = None
            elif kind in (b"moov", b"moof"):
                box = os.pread(fd, size, pos)
                if kind == b"moov":
                    self.track = parse_moov(box, header, size)
                    self.defaults = parse_trex(box, header, size)
                else:
                    moof = parse_moof(box, header, size, pos, self.defaults, want_data)
                    moof_pos = pos
            pos += size
        # A moof whose mdat is not complete yet is read again next time.
        self.pos = moof_pos if moof is not None else pos
        return out

    def _count(self, fragment: Fragment) -> None:
        if fragment.count:
            self.frames += fragment.count
            self.bytes += fragment.size
            self.end = fragment.end
