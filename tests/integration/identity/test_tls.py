"""gRPC over TLS and mutual TLS, with certificates generated here (cryptography):
servers refuse plaintext, mTLS servers refuse clients without a certificate from the
trusted CA, services call each other over the same TLS, and `rtcc health` speaks it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rtcc.cli import main
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings, TlsSettings
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg


@dataclass
class Issued:
    cert: Path
    key: Path


class Authority:
    """A throw-away CA issuing server and client certificates into a directory."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / f"{name}-ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool, client_too: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        if client_too or not server:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if server:
            names = [
                x509.DNSName("registry.rtcc.test"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        issued = Issued(
            self.directory / f"{common_name}.pem", self.directory / f"{common_name}.key"
        )
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return issued


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca = Authority(tmp_path, "city")
    rogue = Authority(tmp_path, "rogue")
    return {
        "ca": ca,
        "server": ca.issue("registry", server=True),
        "client": ca.issue("ingest", server=False),
        "rogue_client": rogue.issue("intruder", server=False),
    }


def settings(data_dir: Path, tls: dict[str, Any]) -> Settings:
    return Settings(
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        data_dir=data_dir,
        auth={"jwt_secret": secrets.token_urlsafe(40)},
        drain_grace_s=0.5,
        tls=tls,
    )


async def health(address: str, tls: TlsSettings | None) -> Any:
    async with open_channel(address, tls=tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return (await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)).status


async def test_tls_server_answers_tls_clients_and_refuses_plaintext(
    pki: dict[str, Any], tmp_path: Path
) -> None:
    server = {"cert_file": pki["server"].cert, "key_file": pki["server"].key}
    platform = await start_platform(settings(tmp_path, server), ["registry"], with_http=False)
    try:
        trusting = TlsSettings(ca_file=pki["ca"].ca_file)
        assert (
            await health(platform.grpc_address, trusting) == health_pb2.HealthCheckResponse.SERVING
        )
        with pytest.raises(grpc.aio.AioRpcError) as plaintext:
            await health(platform.grpc_address, None)
        assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
        # A client that does not trust the server's CA refuses the server.
        with pytest.raises(grpc.aio.AioRpcError):
            await health(platform.grpc_address, TlsSettings(ca_file=pki["rogue_client"].cert))
    finally:
        await platform.stop(grace=0.5)


async def test_mtls_server_refuses_clients_without_a_trusted_certificate(
    pki: dict[str, Any], tmp_path: Path
) -> None:
    server = {
        "cert_file": pki["server"].cert,
        "key_file": pki["server"].key,
        "client_ca_file": pki["ca"].ca_file,
    }
    platform = await start_platform(settings(tmp_path, server), ["registry"], with_http=False)
    address = platform.grpc_address
    try:
        no_cert = TlsSettings(ca_file=pki["ca"].ca_file)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health(address, no_cert)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        rogue = TlsSettings(
            ca_file=pki["ca"].ca_file,
            client_cert_file=pki["rogue_client"].cert,
            client_key_file=pki["rogue_client"].key,
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await health(address, rogue)
        good = TlsSettings(
            ca_file=pki["ca"].ca_file,
            client_cert_file=pki["client"].cert,
            client_key_file=pki["client"].key,
            server_name="registry.rtcc.test",
        )
        assert await health(address, good) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await platform.stop(grace=0.5)


async def test_services_call_each_other_over_mtls(pki: dict[str, Any], tmp_path: Path) -> None:
    # One certificate per process, used as server and client (what a chart mounts).
    both = pki["ca"].issue("rtcc-node", server=True, client_too=True)
    tls = {
        "cert_file": both.cert,
        "key_file": both.key,
        "client_ca_file": pki["ca"].ca_file,
        "ca_file": pki["ca"].ca_file,
        "client_cert_file": both.cert,
        "client_key_file": both.key,
    }
    platform = await start_platform(settings(tmp_path, tls), ["registry"], with_http=False)
    try:
        # The runtime's own peer channel (what ingest or playback would use).
        stub = pbg.RegistryServiceStub(platform.runtime.channel("registry", as_service="ingest"))
        listed = await stub.ListCameras(pb.ListCamerasRequest(), timeout=5)
        assert list(listed.cameras) == []
    finally:
        await platform.stop(grace=0.5)


async def test_health_cli_checks_over_mtls(
    pki: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = {
        "cert_file": pki["server"].cert,
        "key_file": pki["server"].key,
        "client_ca_file": pki["ca"].ca_file,
    }
    platform = await start_platform(settings(tmp_path, server), ["registry"], with_http=False)
    try:
        args = ["health", "--address", platform.grpc_address, "--tls-ca", str(pki["ca"].ca_file)]
        import asyncio

        refused = await asyncio.to_thread(main, args)
        assert refused == 1
        assert "UNAVAILABLE" in capsys.readouterr().err
        with_cert = [
            *args,
            "--tls-cert",
            str(pki["client"].cert),
            "--tls-key",
            str(pki["client"].key),
        ]
        assert await asyncio.to_thread(main, with_cert) == 0
        assert "SERVING" in capsys.readouterr().out
    finally:
        await platform.stop(grace=0.5)


def test_unreadable_certificate_is_a_start_up_error_naming_the_setting(tmp_path: Path) -> None:
    from rtcc.core.tls import server_credentials

    missing = TlsSettings(cert_file=tmp_path / "nope.pem", key_file=tmp_path / "nope.key")
    with pytest.raises(ValueError, match=r"tls\.key_file: cannot read"):
        server_credentials(missing)


def test_half_configured_tls_is_refused() -> None:
    with pytest.raises(ValueError, match="go together"):
        TlsSettings(cert_file=Path("a.pem"))
    with pytest.raises(ValueError, match=r"needs tls\.cert_file"):
        TlsSettings(client_ca_file=Path("ca.pem"))
