"""Reading a client's SDP offer and choosing how to send video to it.

Pure functions: no peer connection, no I/O. H.264 is passed through when the
offer accepts H.264 in packetization mode 1 (what aiortc's packetizer sends) and
the camera sends H.264 and has no privacy masks; otherwise the video is decoded
(and masked) and encoded again, H.264 or VP8, which costs a decode and an encode
per viewer. An offer with neither codec is refused.

A wall offer (``POST /whep/wall``) carries one receive-only video section per tile;
:func:`parse_wall_offer` maps each section's mid to its camera, in m-line order. One
peer connection has one codec family: H.264 when every section takes it (cameras
that cannot be passed through are encoded to H.264), else VP8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.sdp import MediaDescription, SessionDescription

from rtcc.core.errors import InvalidArgument

Delivery = Literal["passthrough", "h264-encode", "vp8"]
MAX_SDP_BYTES = 64 * 1024
MAX_WALL_TILES = 16
# Chromium offers ~5 KiB per video section with its full codec list.
MAX_WALL_SDP_BYTES = MAX_WALL_TILES * 16 * 1024


@dataclass(frozen=True, slots=True)
class OfferedVideo:
    """What a client's offer says about its one video section."""

    codecs: tuple[RTCRtpCodecParameters, ...]

    def accepts_h264(self) -> bool:
        return any(
            c.mimeType.lower() == "video/h264"
            and str(c.parameters.get("packetization-mode", "0")) == "1"
            for c in self.codecs
        )

    def accepts_vp8(self) -> bool:
        return any(c.mimeType.lower() == "video/vp8" for c in self.codecs)


@dataclass(frozen=True, slots=True)
class WallSection:
    """One tile of a wall offer: its video section's mid and the camera it shows."""

    mid: str
    camera_id: str
    video: OfferedVideo


def _parse(sdp: str, limit: int = MAX_SDP_BYTES) -> SessionDescription:
    if not sdp.strip() or len(sdp) > limit:
        raise InvalidArgument("the SDP offer is empty or too large", field="sdp_offer")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidArgument("the SDP offer must start with v=0", field="sdp_offer")
    try:
        return SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises ValueError, KeyError, IndexError...
        raise InvalidArgument(f"the SDP offer is malformed: {exc}", field="sdp_offer") from None


def _receiving(media: MediaDescription) -> bool:
    return media.kind == "video" and media.direction in (None, "recvonly", "sendrecv")


def parse_offer(sdp: str) -> OfferedVideo:
    """Validate an offer: parseable, with a video section the client receives."""
    for media in _parse(sdp).media:
        if _receiving(media):
            return OfferedVideo(tuple(media.rtp.codecs))
    raise InvalidArgument("the SDP offer has no video section to receive into", field="sdp_offer")


def parse_wall_offer(sdp: str, camera_ids: Sequence[str]) -> list[WallSection]:
    """Map a wall offer's video sections, in m-line order, to the cameras asked for.

    Every section must be a video section the client receives into, with its own mid
    (one BUNDLE transport carries them all), and there must be one per camera.
    """
    if not camera_ids or len(camera_ids) > MAX_WALL_TILES:
        raise InvalidArgument(
            f"a wall shows 1 to {MAX_WALL_TILES} cameras (asked for {len(camera_ids)})",
            field="cameras",
        )
    media = _parse(sdp, MAX_WALL_SDP_BYTES).media
    if any(not _receiving(m) for m in media):
        raise InvalidArgument(
            "a wall offer has only video sections the client receives into (recvonly)",
            field="sdp_offer",
        )
    if len(media) != len(camera_ids):
        raise InvalidArgument(
            f"the wall offer has {len(media)} video sections for {len(camera_ids)} cameras;"
            " send one recvonly video section per camera, in the cameras' order",
            field="sdp_offer",
        )
    mids = [m.rtp.muxId for m in media]
    if any(not mid for mid in mids) or len(set(mids)) != len(mids):
        raise InvalidArgument("every video section of a wall offer needs its own mid",
                              field="sdp_offer")  # fmt: skip
    return [
        WallSection(mid, camera_id, OfferedVideo(tuple(m.rtp.codecs)))
        for mid, camera_id, m in zip(mids, camera_ids, media, strict=True)
    ]


def wall_family(sections: Sequence[WallSection]) -> Literal["h264", "vp8"]:
    """The one codec every tile of a wall is sent in: H.264 where all sections take it."""
    if all(s.video.accepts_h264() for s in sections):
        return "h264"
    if all(s.video.accepts_vp8() for s in sections):
        return "vp8"
    raise InvalidArgument(
        "every video section of a wall offer must accept H.264 (packetization-mode=1),"
        " or every one VP8",
        field="sdp_offer",
    )


def wall_delivery(family: Literal["h264", "vp8"], source_codec: str, masked: bool) -> Delivery:
    """How one tile is sent within its wall's codec family."""
    if family == "vp8":
        return "vp8"
    return "passthrough" if source_codec == "h264" and not masked else "h264-encode"


def choose_delivery(offer: OfferedVideo, source_codec: str, masked: bool = False) -> Delivery:
    """Pass H.264 through where both ends allow it; else VP8; else refuse.

    A camera with privacy masks is always decoded, masked and encoded again
    (H.264 where the peer takes it): passthrough would leak what the masks hide.
    """
    if masked and offer.accepts_h264():
        return "h264-encode"
    if source_codec == "h264" and offer.accepts_h264() and not masked:
        return "passthrough"
    if offer.accepts_vp8():
        return "vp8"
    names = sorted({c.mimeType for c in offer.codecs}) or ["none"]
    raise InvalidArgument(
        f"no supported video codec in the offer (offered: {', '.join(names)}); "
        "send H.264 (packetization-mode=1) or VP8",
        field="sdp_offer",
    )


def codec_preferences(delivery: Delivery) -> list[RTCRtpCodecCapability]:
    """aiortc's codecs to prefer, to set on the transceiver before the remote offer."""
    capabilities = RTCRtpSender.getCapabilities("video")
    wanted = "video/vp8" if delivery == "vp8" else "video/h264"
    chosen = [c for c in capabilities.codecs if c.mimeType.lower() == wanted]
    # RTX is kept so that lost packets can be resent.
    rtx = [c for c in capabilities.codecs if c.mimeType.lower() == "video/rtx"]
    return [*chosen, *rtx]
