"""Which RTSP lower transport a camera stream is pulled over (pure).

TCP (RTP interleaved in the RTSP connection) is the default: it survives NAT and
firewalls and loses nothing on a congested link. Some cameras and encoders handle
interleaving badly or only stream over UDP; those are asked for per camera, since the
registry has no field for it:

- `?transport=udp` (or `tcp`) in a stream URL applies to that stream. The hint is
  ours: it is removed from the URL before it is sent to the camera, and the camera's
  own query parameters are kept.
- the camera tag `rtsp-udp` applies to both streams of a camera unless a URL says
  otherwise.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRANSPORTS = frozenset({"tcp", "udp"})
HINT = "transport"
UDP_TAG = "rtsp-udp"


class UnknownTransport(ValueError):
    pass


def split_transport(url: str, default: str) -> tuple[str, str]:
    """(the URL without our hint, the transport to use)."""
    parts = urlsplit(url)
    if not parts.query:
        return url, default
    query = parse_qsl(parts.query, keep_blank_values=True)
    hints = [value.lower() for key, value in query if key.lower() == HINT]
    if not hints:
        return url, default
    transport = hints[-1]
    if transport not in TRANSPORTS:
        raise UnknownTransport(f"transport={transport} is not one of tcp, udp")
    kept = urlencode([(k, v) for k, v in query if k.lower() != HINT])
    return urlunsplit(parts._replace(query=kept)), transport
