"""Authorization code + PKCE against a real provider, driven over HTTP (no browser).

What the console does in Chromium, done by a program: register a public client for a
redirect URI (RFC 7591), ask for a code with an S256 challenge, fill the provider's
login form, take the code from the redirect, and trade it (with the verifier) for an
access token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import aiohttp

SCOPES = "openid profile rtcc"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def register_client(issuer: str, redirect_uri: str) -> str:
    """A public client (no secret, PKCE) allowed to redirect to `redirect_uri`."""
    body = {
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    async with aiohttp.ClientSession() as http, http.post(f"{issuer}/reg", json=body) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["client_id"])


async def sign_in(issuer: str, client_id: str, redirect_uri: str, login: str, password: str) -> str:
    """The access token of `login` after a full code + PKCE flow."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPES,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address host
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        location = await _follow(http, f"{issuer}/auth?{query}", redirect_uri)
        assert "/interaction/" in location, location
        form = {"login": login, "password": password}
        async with http.post(
            location.rstrip("/") + "/login", data=form, allow_redirects=False
        ) as response:
            if response.status == 401:
                raise PermissionError("the provider refused the login")
            assert response.status in (302, 303), await response.text()
            next_url = urljoin(location, response.headers["Location"])
        final = await _follow(http, next_url, redirect_uri)
        params = parse_qs(urlparse(final).query)
        assert params.get("state") == [state], final
        token_form = {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        }
        async with http.post(f"{issuer}/token", data=token_form) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["access_token"])


async def _follow(http: aiohttp.ClientSession, url: str, stop_at: str) -> str:
    """Follow redirects until the redirect URI or a page (returned as its URL)."""
    for _ in range(10):
        if url.startswith(stop_at):
            return url
        async with http.get(url, allow_redirects=False) as response:
            if response.status not in (302, 303):
                return url
            url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects")
