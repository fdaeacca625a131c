"""Identity: bearer JWTs naming a user (or service), an organisation and roles.

Two kinds of token are accepted: the platform's own HS256 tokens (service identities
always, and people in the embedded mode, minted with `rtcc token`), and, when
``auth.oidc`` is configured, access tokens of the city's OpenID Connect provider
(RS256/ES256, verified against its JWKS by :mod:`rtcc.core.oidc`). The auth
interceptor verifies the token of every call and makes the caller available to
servicers through :func:`current_principal`.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from rtcc.core.errors import PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from rtcc.core.oidc import OidcVerifier

ROLES: frozenset[str] = frozenset(
    {"operator", "investigator", "analyst", "partner-admin", "platform-admin", "service"}
)
PLATFORM_ORG = "org_platform"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user or a service, acting for one organisation."""

    subject: str
    org_id: str
    roles: frozenset[str]
    # When the token proving it expires (long-lived streams re-check it); None: unknown.
    expires_at: datetime | None = field(default=None, compare=False)

    def is_service(self, name: str | None = None) -> bool:
        """True for service identities (``service:<target>``), optionally a given one."""
        if "service" not in self.roles or not self.subject.startswith("service:"):
            return False
        return name is None or self.subject == f"service:{name}"

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def require_any_role(self, *roles: str) -> None:
        """Raise PermissionDenied unless the caller holds one of the roles."""
        if not self.has_any_role(*roles):
            raise PermissionDenied(
                f"this call needs one of the roles {', '.join(sorted(roles))}; "
                f"{self.subject} has {', '.join(sorted(self.roles)) or 'none'}"
            )


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "rtcc_principal", default=None
)


def current_principal() -> Principal:
    """The caller of the gRPC call being served."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no authenticated caller in this context")
    return principal


def set_current_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


class TokenAuthority:
    """Mints and verifies the platform's tokens with one HMAC key, and verifies the
    identity provider's access tokens when an :class:`OidcVerifier` is given."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str = "openrtcc",
        audience: str = "rtcc",
        oidc: OidcVerifier | None = None,
        user_tokens: bool = True,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("auth.jwt_secret must be at least 32 characters")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self.oidc = oidc
        # False: platform tokens are accepted for service identities only.
        self._user_tokens = user_tokens

    def _provider_for(self, token: str) -> OidcVerifier | None:
        """The provider's verifier for a token it signed; None for HS256 tokens (ours)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(
                f"the bearer token is not valid: it is not a JWT ({exc})"
            ) from exc
        return None if header.get("alg") == _ALGORITHM else self.oidc

    async def authenticate(self, token: str) -> Principal:
        """Verify any accepted token, fetching the provider's keys if needed."""
        provider = self._provider_for(token)
        return self.verify_local(token) if provider is None else await provider.verify(token)

    def verify(self, token: str) -> Principal:
        """Verify without waiting on the network (provider tokens: cached keys only)."""
        provider = self._provider_for(token)
        return self.verify_local(token) if provider is None else provider.verify_cached(token)

    def console_config(self) -> dict[str, Any]:
        """How the console signs people in: ``{"mode": "oidc", ...}`` or a pasted token."""
        if self.oidc is None:
            return {"mode": "token"}
        return {"mode": "oidc", **self.oidc.console_config()}

    async def close(self) -> None:
        if self.oidc is not None:
            await self.oidc.close()

    def mint(
        self,
        *,
        subject: str,
        org_id: str,
        roles: Iterable[str],
        ttl: timedelta = timedelta(hours=12),
    ) -> str:
        role_set = sorted(set(roles))
        unknown = set(role_set) - ROLES
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; known: {sorted(ROLES)}")
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "org": org_id,
            "roles": role_set,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify_local(self, token: str) -> Principal:
        """Return the HS256 token's principal or raise Unauthenticated saying why."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the bearer token has expired; get a new one") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from exc
        org, roles = claims.get("org"), claims.get("roles", [])
        if not isinstance(org, str) or not org or not isinstance(roles, list):
            raise Unauthenticated("the bearer token lacks an organisation or roles")
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        principal = Principal(
            subject=str(claims["sub"]),
            org_id=org,
            roles=frozenset(map(str, roles)),
            expires_at=expires,
        )
        if not self._user_tokens and not principal.is_service():
            raise Unauthenticated(
                "people sign in through the identity provider here; platform tokens are "
                "for services only (auth.user_tokens is false)"
            )
        return principal

    def service_token(self, target: str, ttl: timedelta) -> str:
        return self.mint(
            subject=f"service:{target}", org_id=PLATFORM_ORG, roles=["service"], ttl=ttl
        )


def mint_token(
    secret: str,
    *,
    subject: str,
    org_id: str,
    roles: Iterable[str],
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """Mint a token with the platform's default issuer and audience."""
    return TokenAuthority(secret).mint(subject=subject, org_id=org_id, roles=roles, ttl=ttl)


def load_or_create_secret(path: Path) -> str:
    """The all-in-one mode's signing key: read it, or create it (mode 0600) once."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
