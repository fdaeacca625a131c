"""The pure parts of rtcc.clients: error mapping, callers, re-checked streams, decisions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from rtcc.clients import Caller, bearer_of, rechecked, require_unexpired
from rtcc.clients.access import AccessDecision, caller_kind
from rtcc.clients.errors import translate
from rtcc.core import errors
from rtcc.core.auth import Principal


class _Failed(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.NOT_FOUND, errors.NotFound),
        (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied),
        (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
        (grpc.StatusCode.INTERNAL, errors.Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.Unavailable),
    ],
)
def test_every_status_maps_to_one_error_of_the_vocabulary(
    code: grpc.StatusCode, kind: type[errors.RtccError]
) -> None:
    mapped = translate(_Failed(code, "camera cam_1 is not shared with you"), "registry")
    assert type(mapped) is kind
    if kind is not errors.Unavailable:
        assert mapped.message == "camera cam_1 is not shared with you"  # the peer's sentence
    else:
        assert "registry" in mapped.message and "Traceback" not in mapped.message


def test_a_caller_forwards_a_bearer_only_when_it_has_one() -> None:
    user = Principal("ana", "org_pd", frozenset({"operator"}))
    assert Caller.service().metadata() == () and Caller.service().is_service
    assert Caller.user(user, "tok").metadata() == (("authorization", "Bearer tok"),)
    assert not Caller.user(user).is_service

    class Context:
        def invocation_metadata(self) -> Any:
            return (("x-request-id", "r1"), ("authorization", "bearer  abc "))

    assert bearer_of(Context()) == "abc"


def test_caller_kinds_and_recorded_instants() -> None:
    assert caller_kind(Principal("service:ingest", "org_platform", frozenset({"service"}))) == (
        "service"
    )
    assert caller_kind(Principal("root", "org_platform", frozenset({"platform-admin"}))) == (
        "platform-admin"
    )
    start = datetime(2026, 3, 1, tzinfo=UTC)
    decision = AccessDecision(True, "grant", recorded_since=start)
    assert decision.at(start + timedelta(seconds=1)).allowed
    assert decision.at(None).allowed
    before = decision.at(start - timedelta(seconds=1))
    assert not before.allowed and before.reason == "before grant start"


def test_an_expired_token_is_unauthenticated() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    fresh = Principal("ana", "org_pd", frozenset({"operator"}), expires_at=now + timedelta(1))
    require_unexpired(fresh, now)
    with pytest.raises(errors.Unauthenticated):
        require_unexpired(Principal("ana", "org_pd", frozenset(), expires_at=now), now)


async def test_a_quiet_stream_still_ends_when_its_recheck_fails() -> None:
    release = asyncio.Event()
    closed = asyncio.Event()

    async def quiet() -> AsyncIterator[int]:
        try:
            yield 1
            await release.wait()  # never set: the source says nothing more
            yield 2
        finally:
            closed.set()

    checks = 0

    async def check() -> None:
        nonlocal checks
        checks += 1
        if checks >= 2:
            raise errors.PermissionDenied("grant revoked")

    got = []
    with pytest.raises(errors.PermissionDenied):
        async with asyncio.timeout(5):
            async for item in rechecked(quiet(), check, 0.05):
                got.append(item)
    assert got == [1] and checks == 2 and closed.is_set()


async def test_a_busy_stream_passes_every_item_while_checks_pass() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(1000):
            yield i

    async def check() -> None:
        return None

    assert [i async for i in rechecked(numbers(), check, 0.001)] == list(range(1000))
