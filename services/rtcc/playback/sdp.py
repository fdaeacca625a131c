"""Reading a client's SDP offer and choosing how to send video to it.

Pure functions: no peer connection, no I/O. H.264 is passed through when the
offer accepts H.264 in packetization mode 1 (what aiortc's packetizer sends) and
the camera sends H.264 and has no privacy masks; otherwise the video is decoded
(and masked) and encoded again, H.264 or VP8, which costs a decode and an encode
per viewer. An offer with neither codec is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.sdp import SessionDescription

from rtcc.core.errors import InvalidArgument

Delivery = Literal["passthrough", "h264-encode", "vp8"]
MAX_SDP_BYTES = 64 * 1024


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


def parse_offer(sdp: str) -> OfferedVideo:
    """Validate an offer: parseable, with a video section the client receives."""
    if not sdp.strip() or len(sdp) > MAX_SDP_BYTES:
        raise InvalidArgument("the SDP offer is empty or too large", field="sdp_offer")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidArgument("the SDP offer must start with v=0", field="sdp_offer")
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises ValueError, KeyError, IndexError...
        raise InvalidArgument(f"the SDP offer is malformed: {exc}", field="sdp_offer") from None
    for media in description.media:
        if media.kind == "video" and media.direction in (None, "recvonly", "sendrecv"):
            return OfferedVideo(tuple(media.rtp.codecs))
    raise InvalidArgument("the SDP offer has no video section to receive into", field="sdp_offer")


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
