"""Running hypothesis against the running platform.

Hypothesis drives a synchronous test function; the platform lives on the test's event
loop. The hypothesis run is therefore moved to a worker thread and each example's
call is sent back to the loop (`on_loop`), so shrinking and the falsifying-example
report work as usual.

Example counts: `RTCC_FUZZ_EXAMPLES` per RPC (default 6) and `RTCC_FUZZ_HTTP_EXAMPLES`
per HTTP route (default 10); `make fuzz` runs many more. Runs are derandomised, so CI
sees the same examples every time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, settings

T = TypeVar("T")
RPC_EXAMPLES = int(os.environ.get("RTCC_FUZZ_EXAMPLES", "6"))
HTTP_EXAMPLES = int(os.environ.get("RTCC_FUZZ_HTTP_EXAMPLES", "10"))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


def on_loop(loop: asyncio.AbstractEventLoop, timeout_s: float = 60.0) -> Callable[..., Any]:
    """`run(coroutine)` from the hypothesis thread: run it on the platform's loop."""

    def run(coroutine: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout_s)  # type: ignore[arg-type]

    return run


async def serving(address: str) -> bool:
    """The process's overall gRPC health is SERVING."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
