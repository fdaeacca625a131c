"""TLS and mutual TLS for gRPC between services, from PEM files (``tls.*`` settings).

A file that cannot be read is a start-up error naming the setting, never a plaintext
fallback: asking for TLS and silently not getting it would be worse than not starting.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from rtcc.core.config import TlsSettings


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"tls.{setting}: cannot read {path}: {exc.strerror}") from None


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """TLS server credentials (client certificates required with ``client_ca_file``)."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    pair = (_read(tls.key_file, "key_file"), _read(tls.cert_file, "cert_file"))
    client_ca = (
        _read(tls.client_ca_file, "client_ca_file") if tls.client_ca_file is not None else None
    )
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials | None:
    """TLS channel credentials for calls to peers; None: plaintext."""
    if tls.ca_file is None:
        return None
    key = cert = None
    if tls.client_cert_file is not None and tls.client_key_file is not None:
        key = _read(tls.client_key_file, "client_key_file")
        cert = _read(tls.client_cert_file, "client_cert_file")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file, "ca_file"), private_key=key, certificate_chain=cert
    )


def channel_options(tls: TlsSettings) -> list[tuple[str, str]]:
    if tls.ca_file is not None and tls.server_name:
        return [("grpc.ssl_target_name_override", tls.server_name)]
    return []
