"""Stream credentials, encrypted at rest.

Credentials are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived by
HKDF from the platform secret, so the database alone (a backup, a dump, a replica)
never reveals a camera's password. Only the store opens them, and only for ingest.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rtcc.core.errors import FailedPrecondition

_INFO = b"rtcc.registry.stream-credentials.v1"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""

    def __repr__(self) -> str:  # never print a password, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


class CredentialBox:
    """Seals and opens stream credentials with a key derived from a secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the credentials key needs a secret of at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "CredentialBox(***)"

    def seal(self, credentials: Credentials) -> bytes:
        plain = json.dumps({"u": credentials.username, "p": credentials.password})
        return self._fernet.encrypt(plain.encode("utf-8"))

    def open(self, token: bytes) -> Credentials:
        try:
            plain = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise FailedPrecondition(
                "the camera's stored credentials cannot be decrypted with this platform's "
                "secret (was auth.jwt_secret changed?); set them again"
            ) from None
        return Credentials(str(plain["u"]), str(plain["p"]))
