"""Cost of verifying one bearer token per call: the platform's HS256 tokens and the
identity provider's RS256 / ES256 access tokens (keys cached, claims mapped), and the
first call after a key rotation (one JWKS fetch from a local HTTP server).

The reference in the same run is HS256, what every call paid before OIDC.

    .venv/bin/python bench/identity_tokens.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rtcc.core.auth import TokenAuthority
from rtcc.core.config import OidcSettings
from rtcc.core.oidc import OidcVerifier

AUDIENCE = "urn:openrtcc:api"


def _jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm: Any = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    data: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


async def _provider(keys: list[dict[str, Any]]) -> tuple[web.AppRunner, str]:
    state: dict[str, str] = {}

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response({"issuer": state["issuer"], "jwks_uri": state["issuer"] + "/j"})

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response({"keys": keys})

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/j", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state["issuer"] = f"http://127.0.0.1:{port}"
    return runner, state["issuer"]


def _per_call_us(verify: Any, token: str, calls: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            verify(token)
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


async def main(calls: int) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [_jwk(rsa_key, "r1", "RS256"), _jwk(ec_key, "e1", "ES256")]
    runner, issuer = await _provider(keys)
    try:
        settings = OidcSettings(issuer=issuer, audience=AUDIENCE, jwks_min_refresh_s=0)
        verifier = OidcVerifier(settings)
        authority = TokenAuthority("s" * 40, oidc=verifier)
        now = int(time.time())
        claims = {"iss": issuer, "aud": AUDIENCE, "sub": "ana", "org": "org_metro",
                  "roles": ["operator"], "iat": now, "exp": now + 3600}  # fmt: skip
        rs = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "r1"})
        es = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "e1"})
        hs = authority.mint(subject="ana", org_id="org_metro", roles=["operator"])

        started = time.perf_counter()
        await authority.authenticate(rs)  # discovery + JWKS fetch, then verify
        first_ms = (time.perf_counter() - started) * 1e3
        rows = [
            ("HS256 platform token (reference)", _per_call_us(authority.verify, hs, calls)),
            ("RS256 provider token, key cached", _per_call_us(authority.verify, rs, calls)),
            ("ES256 provider token, key cached", _per_call_us(authority.verify, es, calls)),
        ]
        # A rotation: a token naming a key not seen yet costs one JWKS fetch.
        rotated_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys.append(_jwk(rotated_key, "r2", "RS256"))
        rotated = jwt.encode(claims, rotated_key, algorithm="RS256", headers={"kid": "r2"})
        started = time.perf_counter()
        await authority.authenticate(rotated)
        rotation_ms = (time.perf_counter() - started) * 1e3
        await verifier.close()
    finally:
        await runner.cleanup()
    print(f"{'token verification':<44} {'per call':>12}")
    for name, micros in rows:
        print(f"{name:<44} {micros:>9.1f} µs")
    print(f"{'first call: discovery + JWKS fetch + verify':<44} {first_ms:>9.1f} ms")
    print(f"{'first call after a key rotation (one fetch)':<44} {rotation_ms:>9.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
