"""The identity provider's access tokens: what is accepted, what is refused and why.

The "provider" here is a real HTTP server on 127.0.0.1 serving a discovery document
and a JWKS whose keys the test generates, rotates and counts fetches of.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rtcc.core.auth import Principal, TokenAuthority
from rtcc.core.config import OidcSettings
from rtcc.core.errors import PermissionDenied, Unauthenticated, Unavailable
from rtcc.core.oidc import OidcVerifier, map_principal

AUDIENCE = "rtcc-api"
SECRET = "s" * 40


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm: Any = jwt.algorithms.RSAAlgorithm if self.alg.startswith("RS") else None
        if algorithm is None:
            algorithm = jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Provider:
    """A discovery document and a JWKS served over real HTTP; keys can be swapped."""

    issuer: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    jwks_fetches: int = 0
    down: bool = False

    def token(self, key: SigningKey, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "ana",
            "org": "org_metro",
            "roles": ["operator"],
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(body, key.private, algorithm=key.alg, headers={"kid": key.kid})

    def settings(self, **overrides: Any) -> OidcSettings:
        values: dict[str, Any] = {
            "issuer": self.issuer,
            "audience": AUDIENCE,
            "client_id": "console",
            "jwks_min_refresh_s": 0,
        }
        return OidcSettings(**{**values, **overrides})


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider(keys=[rsa_key("k1")])

    async def discovery(_: web.Request) -> web.Response:
        if state.down:
            return web.Response(status=503)
        return web.json_response({"issuer": state.issuer, "jwks_uri": state.issuer + "/jwks"})

    async def jwks(_: web.Request) -> web.Response:
        if state.down:
            return web.Response(status=503)
        state.jwks_fetches += 1
        return web.json_response({"keys": [k.jwk() for k in state.keys]})

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.issuer = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_rs256_token_verifies_to_its_mapped_principal(provider: Provider) -> None:
    verifier = OidcVerifier(provider.settings())
    principal = await verifier.verify(provider.token(provider.keys[0]))
    assert principal == Principal("ana", "org_metro", frozenset({"operator"}))
    assert principal.expires_at is not None


async def test_es256_token_is_accepted(provider: Provider) -> None:
    provider.keys.append(ec_key("k-ec"))
    verifier = OidcVerifier(provider.settings())
    principal = await verifier.verify(provider.token(provider.keys[1], sub="ben"))
    assert principal.subject == "ben"


async def test_rotated_key_is_fetched_on_first_token_naming_it(provider: Provider) -> None:
    verifier = OidcVerifier(provider.settings())
    old = provider.keys[0]
    await verifier.verify(provider.token(old))
    assert provider.jwks_fetches == 1
    new = rsa_key("k2")
    provider.keys = [new]  # the provider rotated: k1 is gone, k2 signs
    assert (await verifier.verify(provider.token(new))).subject == "ana"
    assert provider.jwks_fetches == 2
    with pytest.raises(Unauthenticated, match="does not publish"):
        await verifier.verify(provider.token(old))


async def test_unknown_key_ids_cause_at_most_one_fetch_per_interval(provider: Provider) -> None:
    verifier = OidcVerifier(provider.settings(jwks_min_refresh_s=60))
    await verifier.verify(provider.token(provider.keys[0]))
    stranger = rsa_key("nobody")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await verifier.verify(provider.token(stranger))
    assert provider.jwks_fetches == 1


async def test_concurrent_first_calls_share_one_fetch(provider: Provider) -> None:
    verifier = OidcVerifier(provider.settings())
    token = provider.token(provider.keys[0])
    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert {p.subject for p in principals} == {"ana"}
    assert provider.jwks_fetches == 1


async def test_stale_keys_keep_serving_while_the_provider_is_down(provider: Provider) -> None:
    clock = [0.0]
    verifier = OidcVerifier(provider.settings(jwks_cache_s=10), clock=lambda: clock[0])
    token = provider.token(provider.keys[0])
    await verifier.verify(token)
    provider.down = True
    clock[0] = 100.0  # stale: a background refresh starts, and fails
    assert (await verifier.verify(token)).subject == "ana"
    await verifier.close()


async def test_unreachable_provider_is_unavailable_not_a_bad_token(provider: Provider) -> None:
    provider.down = True
    verifier = OidcVerifier(provider.settings())
    with pytest.raises(Unavailable, match="cannot be reached"):
        await verifier.verify(provider.token(provider.keys[0]))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "someone-else"}, "audience"),
        ({"exp": int(time.time()) - 3600}, "expired"),
    ],
)
async def test_token_with_wrong_claims_is_refused(
    provider: Provider, claims: dict[str, Any], reason: str
) -> None:
    verifier = OidcVerifier(provider.settings())
    with pytest.raises(Unauthenticated, match=reason):
        await verifier.verify(provider.token(provider.keys[0], **claims))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hand_made(header: dict[str, Any], claims: dict[str, Any], mac_key: bytes | None) -> str:
    """A JWT assembled by hand: unsigned (``alg: none``) or HMAC-SHA256 with `mac_key`."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if mac_key is None:
        return signing_input + "."
    mac = hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


async def test_alg_none_is_refused(provider: Provider) -> None:
    authority = TokenAuthority(SECRET, oidc=OidcVerifier(provider.settings()))
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "x", "org": "org_metro"}
    body = {**claims, "roles": ["operator"], "exp": now + 60}
    token = _hand_made({"alg": "none", "kid": "k1", "typ": "JWT"}, body, None)
    with pytest.raises(Unauthenticated):
        await authority.authenticate(token)


async def test_hmac_signed_with_the_providers_public_key_is_refused(provider: Provider) -> None:
    # The classic confusion: HS256 "signed" with the RSA public key, which anyone has.
    authority = TokenAuthority(SECRET, oidc=OidcVerifier(provider.settings()))
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "x", "org": "org_metro"}
    body = {**claims, "roles": ["platform-admin"], "exp": now + 60}
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    forged = _hand_made(header, body, provider.keys[0].public_pem())
    with pytest.raises(Unauthenticated):
        await authority.authenticate(forged)
    # The same payload under RS256 with the real key's id but a different key: refused.
    with pytest.raises(Unauthenticated):
        await authority.authenticate(provider.token(rsa_key("k1"), roles=["platform-admin"]))


async def test_algorithm_outside_the_allowed_list_is_refused(provider: Provider) -> None:
    provider.keys.append(ec_key("k-ec"))
    verifier = OidcVerifier(provider.settings(algorithms=["RS256"]))
    with pytest.raises(Unauthenticated, match="ES256"):
        await verifier.verify(provider.token(provider.keys[1]))


async def test_platform_and_provider_tokens_are_both_accepted(provider: Provider) -> None:
    authority = TokenAuthority(SECRET, oidc=OidcVerifier(provider.settings()))
    local = authority.mint(subject="svc", org_id="org_platform", roles=["service"])
    assert (await authority.authenticate(local)).roles == {"service"}
    remote = await authority.authenticate(provider.token(provider.keys[0]))
    assert remote.org_id == "org_metro"
    assert authority.verify(provider.token(provider.keys[0])).subject == "ana"  # cached key


def test_claims_are_mapped_by_configuration() -> None:
    settings = OidcSettings(
        issuer="https://login.city.gov",
        audience=AUDIENCE,
        subject_claim="preferred_username",
        org_claim="agency",
        org_map={"Metro PD": "org_metro"},
        roles_claim="realm_access.roles",
        role_map={"rtcc-dispatch": ["operator"], "rtcc-detective": ["operator", "investigator"]},
    )
    claims = {
        "sub": "3f1c",
        "preferred_username": "ana@metro",
        "agency": "Metro PD",
        "realm_access": {"roles": ["rtcc-detective", "offline_access"]},
    }
    principal = map_principal(claims, settings)
    assert principal == Principal("ana@metro", "org_metro", frozenset({"operator", "investigator"}))


def test_roles_as_a_space_separated_string_are_understood() -> None:
    settings = OidcSettings(issuer="https://x", audience="a")
    principal = map_principal({"sub": "a", "org": "org_x", "roles": "analyst operator"}, settings)
    assert principal.roles == {"analyst", "operator"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "a", "org": "Metro PD", "roles": ["operator"]}, "not mapped"),
        ({"sub": "a", "roles": ["operator"]}, "no organisation"),
        ({"sub": "a", "org": "org_x", "roles": ["service", "janitor"]}, "no role"),
        ({"sub": "service:ingest", "org": "org_x", "roles": ["operator"]}, "service"),
    ],
)
def test_unmappable_claims_are_refused_with_a_reason(claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(PermissionDenied, match=reason):
        map_principal(claims, OidcSettings(issuer="https://x", audience="a"))


def test_a_role_map_cannot_grant_the_service_role() -> None:
    with pytest.raises(ValueError, match="service role"):
        OidcSettings(issuer="https://x", audience="a", role_map={"ops": ["service"]})


def test_issuer_without_audience_is_a_configuration_error() -> None:
    from pydantic import ValidationError

    from rtcc.core.config import Settings

    with pytest.raises(ValidationError, match=r"auth\.oidc\.audience is required"):
        Settings(auth={"jwt_secret": SECRET, "oidc": {"issuer": "https://login.city.gov"}})


def test_oidc_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rtcc.core.config import Settings

    monkeypatch.setenv("RTCC_AUTH__OIDC__ISSUER", "https://login.city.gov/realms/pd")
    monkeypatch.setenv("RTCC_AUTH__OIDC__AUDIENCE", "https://rtcc.city.gov/api")
    monkeypatch.setenv("RTCC_AUTH__OIDC__ORG_MAP", '{"Metro PD": "org_metro"}')
    monkeypatch.setenv("RTCC_AUTH__OIDC__ROLE_MAP", '{"rtcc-dispatch": ["operator"]}')
    oidc = Settings().auth.oidc
    assert oidc.enabled and oidc.org_map == {"Metro PD": "org_metro"}
    assert oidc.role_map == {"rtcc-dispatch": ["operator"]}


async def test_platform_tokens_for_people_can_be_switched_off(provider: Provider) -> None:
    authority = TokenAuthority(SECRET, oidc=OidcVerifier(provider.settings()), user_tokens=False)
    person = authority.mint(subject="ana", org_id="org_metro", roles=["platform-admin"])
    with pytest.raises(Unauthenticated, match="identity provider"):
        await authority.authenticate(person)
    service = authority.service_token("ingest", timedelta(minutes=5))
    assert (await authority.authenticate(service)).is_service("ingest")
    assert (await authority.authenticate(provider.token(provider.keys[0]))).subject == "ana"


def test_user_tokens_off_without_oidc_is_a_configuration_error() -> None:
    from pydantic import ValidationError

    from rtcc.core.config import Settings

    with pytest.raises(ValidationError, match=r"needs auth\.oidc"):
        Settings(auth={"jwt_secret": SECRET, "user_tokens": False})


def _https_pki(directory: Any) -> tuple[Any, Any, Any]:
    """A private CA and a 127.0.0.1 server certificate it signed (PEM files)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "city CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "login")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "c.pem", directory / "k.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


async def test_https_provider_signed_by_the_citys_own_ca(tmp_path: Any) -> None:
    import ssl

    ca_file, cert_file, key_file = _https_pki(tmp_path)
    signing = rsa_key("k1")
    issuer: list[str] = []

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response({"issuer": issuer[0], "jwks_uri": issuer[0] + "/jwks"})

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response({"keys": [signing.jwk()]})

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks", jwks)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    issuer.append(f"https://127.0.0.1:{port}")
    state = Provider(issuer=issuer[0], keys=[signing])
    try:
        token = state.token(signing)
        # Without the city's CA the provider's certificate is not trusted...
        with pytest.raises(Unavailable):
            await OidcVerifier(state.settings()).verify(token)
        # ...with it, keys are fetched over HTTPS and the token verifies.
        trusting = OidcVerifier(state.settings(ca_file=ca_file))
        assert (await trusting.verify(token)).subject == "ana"
    finally:
        await runner.cleanup()


def test_unreadable_provider_ca_is_a_configuration_error(tmp_path: Any) -> None:
    settings = OidcSettings(issuer="https://x", audience="a", ca_file=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=r"auth\.oidc\.ca_file"):
        OidcVerifier(settings)


def test_a_role_map_naming_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        OidcSettings(issuer="https://x", audience="a", role_map={"ops": ["operater"]})
