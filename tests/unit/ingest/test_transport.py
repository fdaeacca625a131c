"""Choosing RTSP over TCP or UDP per camera stream."""

from __future__ import annotations

import pytest

from rtcc.ingest.transport import UnknownTransport, split_transport


def test_tcp_is_the_default_and_a_url_without_hint_is_untouched() -> None:
    url = "rtsp://u:p@10.0.0.5:554/Streaming/Channels/101?profile=1"
    assert split_transport(url, "tcp") == (url, "tcp")


def test_url_hint_selects_udp_and_is_not_sent_to_the_camera() -> None:
    url = "rtsp://10.0.0.5/axis-media/media.amp?resolution=1280x720&transport=UDP"
    assert split_transport(url, "tcp") == (
        "rtsp://10.0.0.5/axis-media/media.amp?resolution=1280x720",
        "udp",
    )
    assert split_transport("rtsp://h/s?transport=tcp", "udp") == ("rtsp://h/s", "tcp")


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(UnknownTransport, match="transport=http"):
        split_transport("rtsp://h/s?transport=http", "tcp")
