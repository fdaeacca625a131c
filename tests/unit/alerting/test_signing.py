"""Source signatures: HMAC over timestamp and body; stale timestamps are refused."""

from __future__ import annotations

import pytest

from rtcc.alerting import signing
from rtcc.core.errors import Unauthenticated

SECRET = "a-source-secret-of-some-length"


def test_a_correct_signature_passes() -> None:
    signature = signing.sign(SECRET, 1000, b"body")
    signing.verify(SECRET, "1000", signature, b"body", now=1010, tolerance_s=300)


@pytest.mark.parametrize(
    ("secret", "stamp", "body", "now", "words"),
    [
        ("another-secret-entirely", "1000", b"body", 1000, "does not match"),
        (SECRET, "1000", b"tampered", 1000, "does not match"),
        (SECRET, "1000", b"body", 2000, "replay"),
        (SECRET, "soon", b"body", 1000, "Unix seconds"),
    ],
)
def test_wrong_signature_or_stale_timestamp_is_refused(
    secret: str, stamp: str, body: bytes, now: float, words: str
) -> None:
    signature = signing.sign(secret, 1000, b"body")
    with pytest.raises(Unauthenticated) as err:
        signing.verify(SECRET, stamp, signature, body, now=now, tolerance_s=300)
    assert words in err.value.message


def test_missing_headers_say_what_to_send() -> None:
    with pytest.raises(Unauthenticated, match="X-RTCC-Signature"):
        signing.verify(SECRET, "", "", b"", now=0, tolerance_s=300)
