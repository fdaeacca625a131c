"""The authorization matrix: every RPC of every service by every kind of caller.

Rows come from the generated service descriptors, so a new RPC fails
`test_every_rpc_has_a_row` until its expected outcomes are written in
expectations.py. Each row calls the RPC as every caller (requests from requests.py)
and compares each answer with the table.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import grpc
import pytest

from .expectations import CAMERA_SCOPED, EXPECTED, PENDING_SERVICES, expected_for
from .findings import FINDINGS
from .outcomes import UNAUTHENTICATED
from .requests import SPECS, Spec, build, targets_camera
from .rpcs import Result, Rpc, all_rpcs, invoke
from .world import CALLERS, OWNER, UNAUTHENTICATED_CALLERS, World

RPCS = {rpc.key: rpc for rpc in all_rpcs()}


def _row_keys() -> list[str]:
    keys = []
    for key in RPCS:
        variants = [k for k in EXPECTED if k.startswith(f"{key}#")]
        keys.extend(variants or [key])
    return keys


def test_every_rpc_has_a_row() -> None:
    """A new RPC, or a renamed one, cannot slip past the matrix."""
    missing = [k for k in _row_keys() if k not in EXPECTED]
    stale = [k for k in EXPECTED if k.split("#")[0] not in RPCS]
    incomplete = [k for k, row in EXPECTED.items() if set(row) != set(CALLERS)]
    assert not missing, f"RPCs without expected outcomes in expectations.py: {missing}"
    assert not stale, f"rows for RPCs that no longer exist: {stale}"
    assert not incomplete, f"rows lacking callers: {incomplete}"
    assert not [k for k in SPECS if k not in EXPECTED], "request builders without rows"


def test_every_service_of_every_target_is_covered() -> None:
    services = {key.split(".")[0] for key in RPCS}
    expected = {
        "RegistryService", "IngestService", "AnalyticsService", "PlaybackService",
        "AlertingService", "EvidenceService",
    }  # fmt: skip
    assert expected <= services


async def _pending(world: World, service: str) -> bool:
    """Whether `service` is still its generated base: UNIMPLEMENTED to every call."""
    if service not in world.pending:
        rpcs = [r for r in RPCS.values() if r.service == service]
        results = [
            await invoke(world.channel(OWNER), r, build(r, r.key, world, OWNER, {}), deadline_s=5)
            for r in rpcs
        ]
        world.pending[service] = all(x.code == grpc.StatusCode.UNIMPLEMENTED for x in results)
    return world.pending[service]


async def _owner_session(world: World) -> str:
    """A fresh recorded session of the owner's operator (sessions that never connect
    are closed after a while, so each row gets its own)."""
    rpc = RPCS["PlaybackService.CreateSession"]
    request = build(rpc, "PlaybackService.CreateSession#recorded", world, OWNER, _ctx(world))
    result = await invoke(world.channel(OWNER), rpc, request)
    if result.code != grpc.StatusCode.OK:
        return f"pbs_not_created_{result.code.name}"
    return str(result.responses[0].session.id)


def _ctx(world: World) -> dict[str, Any]:
    return {"offer": world.offer}


async def _call(world: World, rpc: Rpc, key: str, caller: str, ctx: dict[str, Any]) -> Result:
    spec = SPECS.get(key) or Spec(lambda w, c, x: {})
    if spec.prepare is not None:
        ctx = {**ctx, **await spec.prepare(world, caller)}
    request = build(rpc, key, world, caller, ctx)
    result = await invoke(
        world.channel(caller),
        rpc,
        request,
        stream_wait_s=spec.stream_wait_s,
        max_messages=spec.max_messages,
    )
    if spec.follow is not None and result.code == grpc.StatusCode.OK:
        result.responses = await spec.follow(world, caller, result.responses)
    if rpc.method == "CreateSession" and result.code == grpc.StatusCode.OK:
        close = RPCS["PlaybackService.CloseSession"]
        session_id = result.responses[0].session.id
        await invoke(world.channel(caller), close, close.request(session_id=session_id))
    return result


async def _run_row(world: World, rpc: Rpc, key: str) -> dict[str, Result]:
    spec = SPECS.get(key)
    ctx = _ctx(world)
    if spec is not None and spec.owner_session:
        ctx["session_id"] = await _owner_session(world)
        order = [c for c in CALLERS if c != OWNER] + [OWNER]
        results = {c: await _call(world, rpc, key, c, ctx) for c in order}
        close = RPCS["PlaybackService.CloseSession"]
        await invoke(world.channel(OWNER), close, close.request(session_id=ctx["session_id"]))
        return results
    answers = await asyncio.gather(*(_call(world, rpc, key, c, ctx) for c in CALLERS))
    return dict(zip(CALLERS, answers, strict=True))


@pytest.mark.parametrize("key", _row_keys())
async def test_matrix(world: World, key: str) -> None:
    """One RPC, every caller: each gets the outcome the policy table gives it."""
    assert key in EXPECTED, f"{key} has no row in expectations.py"
    assert not world.problems, f"seeding failed: {world.problems}"
    rpc = RPCS[key.split("#")[0]]
    camera_scoped = key in CAMERA_SCOPED or (key not in SPECS and targets_camera(rpc, world))
    expected = expected_for(key, camera_scoped)
    pending = rpc.service in PENDING_SERVICES and await _pending(world, rpc.service)
    results = await _run_row(world, rpc, key)
    if os.environ.get("RTCC_AUTHZ_VERBOSE"):
        for caller, result in results.items():
            print(f"{key} {caller}: {result.code.name} x{len(result.responses)} {result.details}")
    wrong = []
    for caller, result in results.items():
        outcome = expected[caller]
        if pending and caller not in UNAUTHENTICATED_CALLERS:
            continue  # the generated base: only authentication is decided yet
        problem = outcome.judge(result, world, caller)
        if problem is None:
            continue
        got = problem if result.code == grpc.StatusCode.OK else result.code.name
        detail = (result.details or "")[:120]
        wrong.append(f"{caller}: want {outcome.label}, {problem} ({detail})")
        FINDINGS.append(
            {
                "backend": world.backend,
                "rpc": key,
                "caller": caller,
                "expected": outcome.label,
                "got": f"{got}: {detail}" if detail else got,
            }
        )
    assert not wrong, f"{key} on {world.backend}:\n  " + "\n  ".join(wrong)
    assert expected[UNAUTHENTICATED_CALLERS[0]] is UNAUTHENTICATED
