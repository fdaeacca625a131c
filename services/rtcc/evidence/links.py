"""Secrets of share links and partner request links. Pure.

A link's URL carries a random 256-bit token; only its SHA-256 is stored, so the
database cannot hand out working links. Passcodes are stored as scrypt hashes with
a random salt. A passcode, once given, is remembered by the browser as a cookie
holding an HMAC of the link id under a per-process-independent key (derived from the
token itself), so it is worthless without the URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from rtcc.core.errors import InvalidArgument

MIN_PASSCODE = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_passcode(passcode: str) -> str:
    if len(passcode) < MIN_PASSCODE:
        raise InvalidArgument(
            f"a passcode needs at least {MIN_PASSCODE} characters", field="password"
        )
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_passcode(stored: str, passcode: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(passcode.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(got, base64.b64decode(digest))


def unlock_cookie(token: str, link_id: str) -> str:
    """The value proving the passcode was given for this link (needs the token)."""
    return hmac.new(token.encode(), f"unlocked:{link_id}".encode(), hashlib.sha256).hexdigest()


def safe_file_name(name: str) -> str:
    """An uploaded file's name, refused when it names a path (``../``, ``/``, ``\\``)."""
    if (
        not name
        or len(name) > 255
        or name in (".", "..")
        or any(c in name for c in "/\\\x00")
        or name.startswith(".")
    ):
        raise InvalidArgument(
            f"file name {name!r} is not allowed: give a plain name without '/', '\\\\' or "
            "a leading '.'",
            field="file_name",
        )
    return name
