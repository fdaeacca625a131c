"""Source authentication: an HMAC-SHA256 signature over timestamp and body. Pure.

A source signs each request with its own secret::

    X-RTCC-Timestamp: 1769897643            (Unix seconds)
    X-RTCC-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>

A request whose timestamp is further than the tolerance from now is refused (a
captured request cannot be replayed later); within the tolerance a replay is
harmless: every report is idempotent by the source's own id and revision, so a
replayed or retried request is answered as a duplicate and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac

from rtcc.core.errors import Unauthenticated

TIMESTAMP_HEADER = "X-RTCC-Timestamp"
SIGNATURE_HEADER = "X-RTCC-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: float, tolerance_s: float
) -> None:
    """Raise Unauthenticated unless the signature is right and the timestamp fresh."""
    if not timestamp or not signature:
        raise Unauthenticated(f"send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} (HMAC-SHA256)")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if abs(now - stamp) > tolerance_s:
        raise Unauthenticated(
            f"{TIMESTAMP_HEADER} is {int(now - stamp)} s from the server's clock; at most "
            f"{int(tolerance_s)} s is accepted (check the sender's clock, or this is a replay)"
        )
    if not hmac.compare_digest(sign(secret, stamp, body), signature.strip()):
        raise Unauthenticated("the signature does not match the body and this source's secret")
