"""Tokens: what is accepted, what is refused and why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rtcc.core.auth import Principal, TokenAuthority
from rtcc.core.errors import PermissionDenied, Unauthenticated

SECRET = "s" * 40


def test_minted_token_verifies_to_its_principal() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.mint(subject="ana", org_id="org_pd", roles=["operator", "analyst"])
    assert authority.verify(token) == Principal("ana", "org_pd", frozenset({"operator", "analyst"}))


def test_expired_token_is_refused_with_reason() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.mint(subject="ana", org_id="o", roles=["operator"], ttl=timedelta(seconds=-5))
    with pytest.raises(Unauthenticated, match="expired"):
        authority.verify(token)


def test_token_for_another_audience_is_refused() -> None:
    other = TokenAuthority(SECRET, audience="someone-else")
    token = other.mint(subject="ana", org_id="o", roles=["operator"])
    with pytest.raises(Unauthenticated):
        TokenAuthority(SECRET).verify(token)


def test_unknown_role_cannot_be_minted() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        TokenAuthority(SECRET).mint(subject="a", org_id="o", roles=["god"])


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        TokenAuthority("short")


def test_service_identity_is_recognised_by_name() -> None:
    authority = TokenAuthority(SECRET)
    principal = authority.verify(authority.service_token("ingest", timedelta(minutes=5)))
    assert principal.is_service("ingest")
    assert not principal.is_service("playback")
    user = Principal("service:ingest", "o", frozenset({"operator"}))
    assert not user.is_service(), "a user named like a service is not a service"


def test_role_requirement_names_missing_roles() -> None:
    principal = Principal("ana", "o", frozenset({"operator"}))
    with pytest.raises(PermissionDenied, match="investigator"):
        principal.require_any_role("investigator")
