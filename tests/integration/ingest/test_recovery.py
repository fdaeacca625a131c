"""A segment a killed recorder was writing is kept up to its last whole fragment."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any

import av

from rtcc.ingest.recovery import recover_partials, whole_fragments_end
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSession, CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.writer import meta_path

# Fragments are cut at keyframes and at least every half second (writer.py).
FRAGMENT_S = 0.5


async def _snapshot_of_a_segment_being_written(
    simulator: Any, tmp_path: Path, wait_for: Any, fragments: int
) -> tuple[Path, Path, str]:
    """Record until the open segment has `fragments` whole fragments, then copy its
    `.part` and `-meta` files as they are on disk: what `kill -9` would leave."""
    spool = Spool(tmp_path / "live")
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    source = CameraSource(camera_id, simulator.cameras[0].main_url)
    # Segments far longer than the test: the one being written never closes.
    session = CameraSession(
        source, spool, asyncio.get_running_loop(), settings=SessionSettings(segment_s=60.0)
    )
    session.start()
    try:

        def written() -> bool:
            parts = list(spool.root.glob("*/*/*.part"))
            return bool(parts) and _fragments(parts[0]) >= fragments

        await wait_for(written, within_s=30, what=f"{fragments} whole fragments on disk")
        part = next(spool.root.glob("*/*/*.part"))
        target = tmp_path / "dead" / camera_id / str(MAIN)
        target.mkdir(parents=True)
        shutil.copy(part, target / part.name)
        shutil.copy(meta_path(part), target / meta_path(part).name)
    finally:
        await session.stop()
    return tmp_path / "dead", target / part.name, camera_id


def _fragments(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"moof")


async def test_a_killed_writers_segment_is_recovered_up_to_its_last_whole_fragment(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    root, part, camera_id = await _snapshot_of_a_segment_being_written(
        simulator, tmp_path, wait_for, fragments=3
    )
    whole = whole_fragments_end(part)
    assert 0 < whole <= part.stat().st_size
    # Cut the copy inside the fragment after the whole ones, as a crash mid-write does.
    with part.open("ab") as handle:
        handle.write(b"\x00\x00\x10\x00moof" + b"\x00" * 100)
    found = recover_partials(Spool(root))
    assert found.discarded == 0 and len(found.recovered) == 1
    segment = found.recovered[0]
    assert segment.camera_id == camera_id and segment.stream == MAIN
    assert segment.frames >= 7, "at least one fragment of frames"
    seconds = (segment.end_time - segment.start_time).total_seconds()
    assert FRAGMENT_S - 0.1 <= seconds <= 4 * FRAGMENT_S + 0.2
    assert abs(segment.frames / 15.0 - seconds) < 0.3, "duration matches the frames kept"
    pending = Spool(root).pending()
    assert [p.segment.id for p in pending] == [segment.id]
    assert not list(root.glob("*/*/*.part*")), "no partial files or descriptions left"
    # What remains decodes from the first frame to the last.
    with av.open(str(pending[0].media)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == segment.frames
    assert pending[0].media.stat().st_size == segment.size_bytes == whole


async def test_a_partial_file_without_a_whole_fragment_is_discarded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    part = spool.part_path("cam_x", MAIN, 1_700_000_000_000)
    part.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 16 + b"\x00\x00\x01\x00moov")
    found = recover_partials(spool)
    assert (found.recovered, found.discarded) == ([], 1)
    assert not part.exists()
