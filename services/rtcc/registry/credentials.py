"""Stream credentials, encrypted at rest.

Credentials are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived by
HKDF from a secret (``registry.credentials_keys``, else the platform secret), so the
database alone (a backup, a dump, a replica) never reveals a camera's password. Only
the store opens them, and only for ingest. Several secrets rotate: the first seals,
all open.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
    """Seals stream credentials with the first secret's key; opens them with any."""

    def __init__(self, secret: bytes, *older: bytes) -> None:
        fernets = []
        for each in (secret, *older):
            if len(each) < 16:
                raise ValueError("the credentials key needs a secret of at least 16 bytes")
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(each)
            fernets.append(Fernet(base64.urlsafe_b64encode(key)))
        self._fernet = MultiFernet(fernets)

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
                "the camera's stored credentials cannot be decrypted with any configured "
                "key (was registry.credentials_keys or auth.jwt_secret changed without "
                "keeping the old one?); set them again"
            ) from None
        return Credentials(str(plain["u"]), str(plain["p"]))
