"""Property-based fuzzing of every public RPC with messages generated from descriptors.

Whatever the request, and whoever sends it, the answer is a status a client can act
on: never INTERNAL or UNKNOWN (a crash the interceptor caught), and the process stays
SERVING after every RPC's examples.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from .findings import FINDINGS
from .fuzzing import RPC_EXAMPLES, fuzz_settings, on_loop, serving
from .messages import messages
from .requests import SPECS, build
from .rpcs import Rpc, all_rpcs, invoke
from .world import G_OUT, NO_GRANT, OWNER, PLATFORM_ADMIN, SERVICE, World

RPCS = all_rpcs()
CRASHES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
# Who sends the fuzz: people of several kinds, a platform admin, a service (which
# passes every access check, so its requests reach the deepest code).
SENDERS = (OWNER, G_OUT, NO_GRANT, PLATFORM_ADMIN, SERVICE)


def world_ids(world: World) -> list[str]:
    """Real ids to mix into generated strings."""
    ids = [world.cam, world.plain_cam, world.other_cam, *world.orgs.values()]
    ids += [*world.grants.values(), *world.events.values(), *world.plate_reads.values()]
    if world.segment is not None:
        ids.append(world.segment.id)
    return [i for i in ids if i]


def _keys(rpc: Rpc) -> list[str]:
    keys = [k for k in SPECS if k == rpc.key or k.startswith(f"{rpc.key}#")]
    return keys or [rpc.key]


def _merged(pair: tuple[Message, Message]) -> Message:
    valid, changes = pair
    out = type(valid)()
    out.CopyFrom(valid)
    out.MergeFrom(changes)
    return out


@pytest.mark.parametrize("rpc", RPCS, ids=[r.key for r in RPCS])
async def test_rpc_never_fails_internally(world: World, rpc: Rpc) -> None:
    run = on_loop(asyncio.get_running_loop())
    drawn = messages(rpc.descriptor.input_type, world_ids(world))
    # Half the examples start from the matrix's valid request and change some fields,
    # so they get past "no such camera" into the code behind it.
    valid = [build(rpc, key, world, SERVICE, {"offer": world.offer}) for key in _keys(rpc)]
    requests = st.one_of(drawn, st.tuples(st.sampled_from(valid), drawn).map(_merged))
    channels = {sender: world.channel(sender) for sender in SENDERS}  # made on the loop

    @fuzz_settings(RPC_EXAMPLES)
    @given(request=requests, sender=st.sampled_from(SENDERS))
    def property(request: Any, sender: str) -> None:
        result = run(invoke(channels[sender], rpc, request, deadline_s=20, stream_wait_s=0.5))
        if result.code in CRASHES:
            raise AssertionError(
                f"{rpc.key} answered {result.code.name} ({result.details}) to {sender} for "
                f"{str(request)[:2000]!r}"
            )

    try:
        await asyncio.to_thread(property)
    except AssertionError as exc:  # the smallest failing example, after shrinking
        FINDINGS.append(
            {
                "backend": world.backend,
                "rpc": f"{rpc.key} (fuzz)",
                "caller": "any",
                "expected": "never INTERNAL/UNKNOWN",
                "got": str(exc).splitlines()[0][:400],
            }
        )
        raise
    assert await serving(world.address), "the process stopped serving"
