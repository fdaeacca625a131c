"""The platform's three secrets, one job each.

- **token signing** (``auth.jwt_secret``): HS256 tokens of services and, in the
  embedded mode, of people;
- **presigned links** (``presign_key``): links to objects of the embedded store;
- **credential sealing** (``registry.credentials_keys``): camera stream credentials
  at rest, newest first (the first seals, every one opens).

Leaking one must not give the others away, and rotating one must not break the
others. Unset keys default, in all-in-one mode, to their own generated file in
``data_dir`` (mode 0600, created once). Split targets (a cluster) cannot share a
generated file, so an unset presign or credentials key is derived from the token key
under its own label — a warning says to set it. Credentials sealed by releases that
used the token key directly still open: that key is always the last opener.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import structlog

from rtcc.core.auth import load_or_create_secret
from rtcc.core.config import Settings

log = structlog.get_logger("rtcc.keys")

TOKEN_KEY_FILE = "jwt-secret"
PRESIGN_KEY_FILE = "presign-key"
CREDENTIALS_KEY_FILE = "credentials-key"


@dataclass(frozen=True)
class PlatformKeys:
    token_signing: str
    presigned_links: bytes
    credentials: tuple[bytes, ...]


def token_signing_key(settings: Settings) -> str:
    secret = settings.auth.jwt_secret.get_secret_value()
    return secret or load_or_create_secret(settings.data_dir / TOKEN_KEY_FILE)


def _derived(token_key: str, label: str) -> bytes:
    return hmac.new(token_key.encode(), label.encode(), hashlib.sha256).digest()


def load_keys(settings: Settings, *, all_in_one: bool) -> PlatformKeys:
    """The keys named by the settings, generated or derived where they are unset."""
    token_key = token_signing_key(settings)
    presign = settings.presign_key.get_secret_value().encode()
    configured = [k.get_secret_value().encode() for k in settings.registry.credentials_keys]
    missing = []
    if not presign:
        if all_in_one:
            presign = load_or_create_secret(settings.data_dir / PRESIGN_KEY_FILE).encode()
        else:
            presign = _derived(token_key, "rtcc/presigned-links/v1")
            missing.append("presign_key")
    credentials = configured
    if not credentials:
        if all_in_one:
            credentials = [load_or_create_secret(settings.data_dir / CREDENTIALS_KEY_FILE).encode()]
        else:
            missing.append("registry.credentials_keys")
    legacy = token_key.encode()
    if legacy not in credentials:
        credentials.append(legacy)  # opens what older releases sealed; never seals
    if missing:
        log.warning("keys_derived_from_token_key", unset=missing)
    return PlatformKeys(token_key, presign, tuple(credentials))
