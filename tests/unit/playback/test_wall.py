"""One peer connection for a wall: each mid carries its own camera; refusals stay alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc.sdp import SessionDescription

from rtcc.core.auth import Principal
from rtcc.core.errors import NotFound, PermissionDenied
from rtcc.playback.packets import TrackInfo
from rtcc.playback.relay import RelayHub
from rtcc.playback.viewers import Polygon, Scope
from rtcc.playback.wall import WallManager, WallOptions, WallSpec
from rtcc.playback.wallfeed import MAIN, SUB

from .test_wallfeed import Idle, packet

OFFER = (Path(__file__).parent / "chromium_wall_offer.sdp").read_text()  # 3 sections
ANA = Principal("ana@city", "org_city", ("operator",))


class Access:
    """Access by a table: cam_denied is not shared with the viewer; cam_masked has a mask."""

    def __init__(self) -> None:
        self.denied = {"cam_denied"}
        self.checked: list[tuple[str, Scope]] = []

    async def check(self, principal: Principal, camera_id: str, scope: Scope) -> None:
        self.checked.append((camera_id, scope))
        if camera_id in self.denied:
            raise PermissionDenied(f"you may not watch camera {camera_id} live")
        if camera_id == "cam_gone":
            raise NotFound(f"camera {camera_id} does not exist or is not shared with you")

    async def privacy_masks(self, camera_id: str) -> list[Polygon]:
        return [[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0)]] if camera_id == "cam_masked" else []


@pytest.fixture
async def walls() -> AsyncIterator[tuple[WallManager, RelayHub, Access]]:
    hub = RelayHub(lambda key: lambda: Idle())
    for camera in ("cam_a", "cam_b", "cam_masked", "cam_denied"):
        for stream in (MAIN, SUB):
            relay, _ = hub.subscribe(f"{camera}/{stream}")  # streaming, a GOP cached
            relay.track = TrackInfo("h264")
            relay.track_known.set()
            relay.publish(packet(1, key=True))
    access = Access()
    ids = iter(f"pbs_{i}" for i in range(100))
    manager = WallManager(access=access, hub=hub, verify=lambda token: ANA,
                          new_session_id=lambda: next(ids),
                          options=WallOptions(track_wait_s=0.2))  # fmt: skip
    yield manager, hub, access
    await manager.close_all()
    await hub.close()


def answered(sdp: str) -> list[tuple[str, str | None, str]]:
    """(mid, direction, first codec) of each answered section."""
    media = SessionDescription.parse(sdp).media
    return [(m.rtp.muxId, m.direction, m.rtp.codecs[0].mimeType) for m in media]


async def test_each_mid_of_the_answer_carries_the_camera_asked_for_at_its_place(
    walls: tuple[WallManager, RelayHub, Access],
) -> None:
    manager, _, access = walls
    spec = WallSpec(("cam_b", "cam_a", "cam_masked"), OFFER, SUB)
    wall, answer = await manager.create(ANA, "token", spec)
    assert answered(answer) == [
        ("0", "sendonly", "video/H264"), ("1", "sendonly", "video/H264"),
        ("2", "sendonly", "video/H264"),
    ]  # fmt: skip
    by_mid = {t.mid: t for t in wall.pc.getTransceivers()}
    for tile, camera in zip(wall.tiles, spec.camera_ids, strict=True):
        assert tile.camera_id == camera and tile.state == "playing"
        assert tile.feed is not None and tile.feed.camera_id == camera
        assert by_mid[tile.mid].sender.track is tile.track
    # Sub streams relayed with a keyframe cached: the tiles start on them.
    assert [t.feed.stream for t in wall.tiles if t.feed] == [SUB, SUB, SUB]
    assert [t.delivery for t in wall.tiles] == ["passthrough", "passthrough", "h264-encode"]
    assert sorted(access.checked) == [("cam_a", "live"), ("cam_b", "live"), ("cam_masked", "live")]
    assert manager.get(wall.id, ANA) is wall


async def test_a_camera_the_viewer_may_not_see_is_refused_alone_and_answered_inactive(
    walls: tuple[WallManager, RelayHub, Access],
) -> None:
    manager, _, _ = walls
    spec = WallSpec(("cam_a", "cam_denied", "cam_b"), OFFER)
    wall, answer = await manager.create(ANA, "token", spec)
    assert [d for _, d, _ in answered(answer)] == ["sendonly", "inactive", "sendonly"]
    refused = wall.tiles[1]
    assert (refused.state, refused.code) == ("refused", "PERMISSION_DENIED")
    assert "cam_denied" in refused.error and refused.feed is None
    assert [t.state for t in wall.tiles] == ["playing", "refused", "playing"]


async def test_a_wall_with_no_camera_to_show_is_refused_and_leaves_no_relay_behind(
    walls: tuple[WallManager, RelayHub, Access],
) -> None:
    manager, hub, _ = walls
    viewers = {key: len(relay.subscribers) for key, (relay, _) in hub.relays.items()}
    with pytest.raises(PermissionDenied, match="no tile of this wall"):
        await manager.create(ANA, "token", WallSpec(("cam_denied",) * 3, OFFER))
    assert manager.walls == {}
    assert {key: len(relay.subscribers) for key, (relay, _) in hub.relays.items()} == viewers


async def test_a_tile_whose_access_ends_stops_and_the_others_play_on(
    walls: tuple[WallManager, RelayHub, Access],
) -> None:
    manager, _, access = walls
    wall, _ = await manager.create(ANA, "token", WallSpec(("cam_a", "cam_b", "cam_masked"), OFFER))
    access.denied.add("cam_b")
    await manager.recheck_once()
    assert [t.state for t in wall.tiles] == ["playing", "ended", "playing"]
    assert wall.tiles[1].feed is not None and wall.tiles[1].feed.ended
    assert wall.id in manager.walls
    access.denied |= {"cam_a", "cam_masked"}
    await manager.recheck_once()  # no tile left: the wall closes
    assert wall.id not in manager.walls and wall.close_reason == "access_revoked"


async def test_a_tile_moves_between_streams_without_signalling(
    walls: tuple[WallManager, RelayHub, Access],
) -> None:
    manager, _, _ = walls
    wall, _ = await manager.create(ANA, "token", WallSpec(("cam_a", "cam_b", "cam_masked"), OFFER))
    tile = manager.set_stream(wall, "1", SUB)
    assert tile.camera_id == "cam_b" and tile.feed is not None and tile.feed.wanted == SUB
    with pytest.raises(Exception, match="no tile with mid"):
        manager.set_stream(wall, "7", MAIN)
    other = Principal("ana@city", "org_elsewhere", ("operator",))
    with pytest.raises(NotFound):
        manager.get(wall.id, other)
    await manager.close(wall.id, "client")
    assert all(t.feed is not None and t.feed.ended for t in wall.tiles)
