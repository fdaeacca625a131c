"""Reading offers and choosing passthrough, VP8 or refusal (a real Chromium offer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtcc.core.errors import InvalidArgument
from rtcc.playback.sdp import choose_delivery, codec_preferences, parse_offer

CHROMIUM_OFFER = (Path(__file__).parent / "chromium_offer.sdp").read_text()


def keep_codecs(sdp: str, names: set[str], h264_mode: str | None = None) -> str:
    """The offer with only the named codecs (no RTX); optionally force packetization-mode."""
    kept = {
        pt
        for pt, name in re.findall(r"a=rtpmap:(\d+) ([\w-]+)/", sdp)
        if name.upper() in {n.upper() for n in names}
    }
    lines = []
    for line in sdp.splitlines():
        match = re.match(r"a=(rtpmap|fmtp|rtcp-fb):(\d+)", line)
        if match and match.group(2) not in kept:
            continue
        if line.startswith("m=video"):
            head = line.split()[:3]
            line = " ".join([*head, *[pt for pt in line.split()[3:] if pt in kept]])
        if h264_mode is not None and line.startswith("a=fmtp:"):
            line = line.replace("packetization-mode=1", f"packetization-mode={h264_mode}")
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def test_chromium_offer_gets_h264_passthrough_for_an_h264_camera() -> None:
    assert choose_delivery(parse_offer(CHROMIUM_OFFER), "h264") == "passthrough"


def test_masked_camera_is_reencoded_even_when_h264_could_pass_through() -> None:
    offer = parse_offer(CHROMIUM_OFFER)
    assert choose_delivery(offer, "h264", masked=True) == "h264-encode"
    vp8_only = parse_offer(keep_codecs(CHROMIUM_OFFER, {"VP8"}))
    assert choose_delivery(vp8_only, "h264", masked=True) == "vp8"


def test_hevc_camera_is_reencoded_to_vp8() -> None:
    assert choose_delivery(parse_offer(CHROMIUM_OFFER), "hevc") == "vp8"


def test_peer_without_h264_gets_vp8() -> None:
    offer = parse_offer(keep_codecs(CHROMIUM_OFFER, {"VP8", "VP9"}))
    assert choose_delivery(offer, "h264") == "vp8"


def test_h264_in_packetization_mode_0_only_is_not_passed_through() -> None:
    offer = parse_offer(keep_codecs(CHROMIUM_OFFER, {"H264", "VP8"}, h264_mode="0"))
    assert not offer.accepts_h264()
    assert choose_delivery(offer, "h264") == "vp8"


def test_offer_with_unsupported_codecs_only_is_refused() -> None:
    offer = parse_offer(keep_codecs(CHROMIUM_OFFER, {"AV1"}))
    with pytest.raises(InvalidArgument, match="no supported video codec"):
        choose_delivery(offer, "h264")


@pytest.mark.parametrize(
    "sdp",
    ["", "hello", "v=0\r\nm=video nonsense\r\n", "v=0\r\n" + "a=x\r\n" * 20000],
    ids=["empty", "not-sdp", "broken-media", "too-large"],
)
def test_malformed_offers_are_invalid_arguments(sdp: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_offer(sdp)


def test_offer_without_video_is_refused() -> None:
    audio_only = CHROMIUM_OFFER.replace("m=video", "m=audio")
    with pytest.raises(InvalidArgument, match="no video section"):
        parse_offer(audio_only)


def test_codec_preferences_put_only_the_chosen_codec_first() -> None:
    h264 = codec_preferences("passthrough")
    vp8 = codec_preferences("vp8")
    assert h264[0].mimeType == "video/H264"
    assert {c.mimeType for c in h264} == {"video/H264", "video/rtx"}
    assert {c.mimeType for c in vp8} == {"video/VP8", "video/rtx"}
