"""Resource identifiers: a short type prefix and 16 random base32 characters."""

from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    """Return a new random id such as ``cam_3k2v…``; the prefix names the resource type."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"{prefix}_{raw}"
