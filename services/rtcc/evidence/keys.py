"""The Ed25519 key that signs custody checkpoints and packages: read from a PEM file,
or created once (mode 0600) when the file does not exist."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from rtcc.core.config import Settings


def key_path(settings: Settings) -> Path:
    configured = settings.evidence.signing_key_file
    return Path(configured) if configured else settings.data_dir / "evidence-signing.pem"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key in `path`; ValueError naming the file when it holds something else."""
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} holds a key that is not Ed25519")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key
