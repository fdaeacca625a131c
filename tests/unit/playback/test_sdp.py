"""Reading offers and choosing passthrough, VP8 or refusal (a real Chromium offer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtcc.core.errors import InvalidArgument
from rtcc.playback.sdp import (
    choose_delivery,
    codec_preferences,
    parse_offer,
    parse_wall_offer,
    wall_delivery,
    wall_family,
)

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


WALL_OFFER = (Path(__file__).parent / "chromium_wall_offer.sdp").read_text()  # 3 sections


def wall_offer_of(count: int) -> str:
    """A Chromium wall offer with ``count`` video sections (mids 0..count-1)."""
    head, first, bundled, _ = WALL_OFFER.replace("\r\n", "\n").split("\nm=")
    head = re.sub(r"a=group:BUNDLE.*", "a=group:BUNDLE " + " ".join(map(str, range(count))), head)
    rest = [bundled.replace("a=mid:1", f"a=mid:{i}") for i in range(1, count)]  # port 9
    return "\r\n".join("\nm=".join([head, first, *rest]).splitlines()) + "\r\n"


def test_a_wall_offer_maps_each_section_to_its_camera_in_m_line_order() -> None:
    tiles = parse_wall_offer(WALL_OFFER, ["cam_a", "cam_b", "cam_c"])
    assert [(t.mid, t.camera_id) for t in tiles] == [("0", "cam_a"), ("1", "cam_b"), ("2", "cam_c")]
    assert all(t.video.accepts_h264() for t in tiles)


def test_a_sixteen_tile_chromium_wall_offer_is_accepted_though_larger_than_one_offer() -> None:
    offer = wall_offer_of(16)
    assert len(offer) > 64 * 1024
    tiles = parse_wall_offer(offer, [f"cam_{i}" for i in range(16)])
    assert [t.mid for t in tiles] == [str(i) for i in range(16)]


@pytest.mark.parametrize("cameras", [[], ["cam_a", "cam_b"], [f"cam_{i}" for i in range(17)]],
                         ids=["none", "fewer-than-sections", "more-than-sixteen"])  # fmt: skip
def test_a_wall_needs_one_section_per_camera_and_at_most_sixteen(cameras: list[str]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_wall_offer(WALL_OFFER, cameras)
    assert raised.value.field in ("cameras", "sdp_offer")


def test_a_wall_offer_with_a_section_the_client_does_not_receive_into_is_refused() -> None:
    sending = WALL_OFFER.replace("a=recvonly", "a=sendonly", 1)
    with pytest.raises(InvalidArgument, match="recvonly"):
        parse_wall_offer(sending, ["cam_a", "cam_b", "cam_c"])


def test_a_wall_offer_needs_distinct_mids() -> None:
    twice = WALL_OFFER.replace("a=mid:2", "a=mid:1")
    with pytest.raises(InvalidArgument, match="own mid"):
        parse_wall_offer(twice, ["cam_a", "cam_b", "cam_c"])


def test_a_wall_is_sent_in_h264_when_every_section_takes_it_else_vp8() -> None:
    assert wall_family(parse_wall_offer(WALL_OFFER, ["a", "b", "c"])) == "h264"
    vp8 = keep_codecs(WALL_OFFER, {"VP8"})
    assert wall_family(parse_wall_offer(vp8, ["a", "b", "c"])) == "vp8"
    av1 = keep_codecs(WALL_OFFER, {"AV1"})
    with pytest.raises(InvalidArgument, match=r"H\.264"):
        wall_family(parse_wall_offer(av1, ["a", "b", "c"]))


def test_wall_tiles_pass_h264_through_and_encode_masked_or_other_cameras_to_h264() -> None:
    assert wall_delivery("h264", "h264", masked=False) == "passthrough"
    assert wall_delivery("h264", "h264", masked=True) == "h264-encode"
    assert wall_delivery("h264", "hevc", masked=False) == "h264-encode"
    assert wall_delivery("vp8", "h264", masked=False) == "vp8"
