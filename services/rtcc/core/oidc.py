"""Access tokens from the city's OpenID Connect provider, verified against its JWKS.

The provider's signing keys are found through its discovery document
(``<issuer>/.well-known/openid-configuration`` → ``jwks_uri``) and kept in memory.
Verifying a token never waits on the network when its key is known: the signature is
checked against the cached key (CPU only). A token naming a key not seen yet causes
one refresh, shared by every call waiting for it and at most one per
``jwks_min_refresh_s`` (random key ids cannot make us hammer the provider). Keys
older than ``jwks_cache_s`` are refreshed in the background while they keep serving,
so a provider that is briefly down does not sign everyone out.

Only asymmetric algorithms are accepted (``none`` and HMAC never: an HMAC "signed"
with the provider's public key would otherwise pass), and a key's own ``alg``, when
the JWKS states one, must match the token's.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import structlog

from rtcc.core.auth import ROLES, Principal
from rtcc.core.config import OidcSettings
from rtcc.core.errors import PermissionDenied, Unauthenticated, Unavailable

log = structlog.get_logger("rtcc.oidc")

_ORG_ID_PREFIX = "org_"


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def map_principal(claims: Mapping[str, Any], settings: OidcSettings) -> Principal:
    """The platform principal of verified provider claims, mapped by configuration."""
    subject = claim(claims, settings.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated(f"the access token has no {settings.subject_claim!r} claim")
    if subject.startswith("service:"):
        raise PermissionDenied("service identities use the platform's own tokens")
    org_value = claim(claims, settings.org_claim)
    if isinstance(org_value, list) and len(org_value) == 1:
        org_value = org_value[0]
    if not isinstance(org_value, str) or not org_value:
        raise PermissionDenied(
            f"your sign-in carries no organisation (claim {settings.org_claim!r}); ask the "
            "identity provider's administrator to add it"
        )
    org_id = settings.org_map.get(org_value)
    if org_id is None and org_value.startswith(_ORG_ID_PREFIX):
        org_id = org_value
    if org_id is None:
        raise PermissionDenied(
            f"organisation {org_value!r} of your sign-in is not mapped to one of this "
            "platform's organisations (auth.oidc.org_map)"
        )
    raw_roles = claim(claims, settings.roles_claim)
    values = raw_roles.split() if isinstance(raw_roles, str) else raw_roles or []
    if not isinstance(values, list):
        values = []
    roles: set[str] = set()
    for value in map(str, values):
        if settings.role_map:
            roles.update(settings.role_map.get(value, ()))
        elif value in ROLES:
            roles.add(value)
    roles.discard("service")
    if not roles:
        raise PermissionDenied(
            f"your sign-in grants no role of this platform (claim {settings.roles_claim!r}); "
            "ask for a group mapped in auth.oidc.role_map"
        )
    exp = claims.get("exp")
    expires = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
    return Principal(subject=subject, org_id=org_id, roles=frozenset(roles), expires_at=expires)


class OidcVerifier:
    """Verifies the provider's access tokens; one per process, shared by every call."""

    def __init__(
        self, settings: OidcSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        # kid -> (key, the `alg` the JWKS states for it, if any)
        self._keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
        self._fetched_at: float | None = None
        self._unreachable: str | None = None
        self._jwks_uri: str | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._trust: ssl.SSLContext | None = None
        if settings.ca_file is not None:
            try:
                self._trust = ssl.create_default_context(cafile=str(settings.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"auth.oidc.ca_file: cannot use {settings.ca_file}: {exc}"
                ) from None

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def console_config(self) -> dict[str, Any]:
        """What the console needs to sign people in (no secrets: a public client)."""
        return {
            "issuer": self.settings.issuer,
            "client_id": self.settings.client_id,
            "scopes": list(self.settings.scopes),
            "resource": self.settings.resource,
        }

    async def verify(self, token: str) -> Principal:
        """Verify a token, fetching the provider's keys when they are unknown or stale."""
        header = _header(token)
        if header.get("alg") not in self.settings.algorithms:
            return self.verify_cached(token)  # refused, without asking the provider
        known = self._find_key(header.get("kid")) is not None
        if not known and self._may_fetch():
            await self.refresh()
        elif known and self._stale():
            self._refresh_in_background()
        return self.verify_cached(token)

    def verify_cached(self, token: str) -> Principal:
        """Verify against the keys already fetched (no network: for synchronous callers)."""
        header = _header(token)
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            raise Unauthenticated(
                f"the access token is signed with {alg!r}; accepted: "
                f"{', '.join(self.settings.algorithms)}"
            )
        found = self._find_key(header.get("kid"))
        if found is None and self._unreachable and not self._keys:
            raise Unavailable(self._unreachable)
        if found is None:
            raise Unauthenticated(
                "the access token was signed with a key the identity provider does not "
                "publish; sign in again"
            )
        key, stated_alg = found
        if stated_alg is not None and stated_alg != alg:
            raise Unauthenticated("the access token's algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the access token has expired; sign in again") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated(
                f"the access token is for another audience (this API is "
                f"{self.settings.audience!r}); check the provider's client configuration"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated(
                f"the access token comes from another issuer (expected {self.settings.issuer})"
            ) from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        return map_principal(claims, self.settings)

    async def refresh(self) -> None:
        """Fetch the JWKS now; concurrent callers share one fetch."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch(), name="oidc-jwks")
        await asyncio.shield(self._refreshing)

    async def close(self) -> None:
        task, self._refreshing = self._refreshing, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _find_key(self, kid: Any) -> tuple[jwt.PyJWK, str | None] | None:
        if isinstance(kid, str):
            return self._keys.get(kid)
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return None

    def _may_fetch(self) -> bool:
        if self._fetched_at is None:
            return True
        return self._clock() - self._fetched_at >= self.settings.jwks_min_refresh_s

    def _stale(self) -> bool:
        return (
            self._fetched_at is not None
            and self._clock() - self._fetched_at >= self.settings.jwks_cache_s
        )

    def _refresh_in_background(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.create_task(self._fetch(), name="oidc-jwks")

        def _done(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.warning("jwks_refresh_failed", error=str(task.exception()))

        self._refreshing.add_done_callback(_done)

    async def _fetch(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.fetch_timeout_s)
        connector = aiohttp.TCPConnector(ssl=self._trust) if self._trust is not None else None
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                if self._jwks_uri is None:
                    self._jwks_uri = await self._discover(http)
                async with http.get(self._jwks_uri) as response:
                    response.raise_for_status()
                    document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # Counted as an attempt: a provider that is down is not asked on every call.
            self._fetched_at = self._clock()
            self._unreachable = (
                f"the identity provider {self.settings.issuer} cannot be reached to verify "
                f"the token ({type(exc).__name__}); try again shortly"
            )
            raise Unavailable(self._unreachable) from exc
        self._keys = _signing_keys(document)
        self._fetched_at = self._clock()
        self._unreachable = None
        log.info("jwks_fetched", keys=len(self._keys))

    async def _discover(self, http: aiohttp.ClientSession) -> str:
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        async with http.get(url) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict) or document.get("issuer") != self.settings.issuer:
            raise ValueError(f"the discovery document at {url} names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise ValueError(f"the discovery document at {url} has no jwks_uri")
        return jwks_uri


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"the bearer token is not valid: it is not a JWT ({exc})") from exc


def _signing_keys(document: Any) -> dict[str, tuple[jwt.PyJWK, str | None]]:
    """The JWKS's signature keys by kid (encryption keys and unusable ones skipped)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS document has no keys")
    keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
    for index, entry in enumerate(document["keys"]):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError):
            log.warning("jwks_key_skipped", kid=entry.get("kid"))
            continue
        stated = entry.get("alg")
        keys[str(entry.get("kid", f"#{index}"))] = (
            key,
            stated if isinstance(stated, str) else None,
        )
    return keys
